-- Retention view, R6: open data-subject requests with their due dates (ix_subject_requests_open_due).
-- Ids, types and dates only: the person is in the table as a keyed hash, which is not shown either.
SELECT request_id, request_type, client_scope, received_on, due_on
FROM subject_requests
WHERE status = 'open'
ORDER BY due_on, request_id
