-- R6: open requests by due date (ix_subject_requests_open_due holds only these).
SELECT request_id, request_type, client_scope, received_on, due_on
FROM subject_requests
WHERE status = 'open'
ORDER BY due_on, request_id
