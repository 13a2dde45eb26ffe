-- R2: a voice cannot be anonymised (data map: delete_file): every recording of an
-- assignment at term is marked for deletion first, so a crash loses track of none.
UPDATE recordings
SET state = 'deleting', delete_rule = 'R2'
WHERE client_id = :client_id
  AND assignment_id = :assignment_id
  AND state = 'stored'
