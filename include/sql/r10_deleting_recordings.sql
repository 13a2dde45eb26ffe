-- R10: recordings marked for deletion (by R2, R3, R4 or an erasure) whose file and row
-- are still to go; every run finishes these first.
SELECT id, assignment_id, stored_path, delete_rule
FROM recordings
WHERE client_id = :client_id
  AND state = 'deleting'
ORDER BY id
LIMIT :batch_size
