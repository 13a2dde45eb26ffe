-- R6: one recorded request (no identifiers are stored, so none are read).
SELECT request_id, request_type, client_scope, received_on, due_on, status, outcome, export_path
FROM subject_requests
WHERE request_id = :request_id
