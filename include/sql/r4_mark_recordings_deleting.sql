-- R4: recordings of destroyed assignments (or of the whole client) are marked for deletion
-- first, so a crash loses track of none.
UPDATE recordings
SET state = 'deleting', delete_rule = 'R4'
WHERE client_id = :client_id
  AND state = 'stored'
  AND (:whole_client OR assignment_id IN :assignment_ids)
