-- R6: record a subject request with its due date; a retried task records it once (one request per run).
-- The person appears only as a keyed hash and the names of the identifier kinds given.
INSERT INTO subject_requests (request_id, request_type, client_scope, received_on, due_on, status,
                              identifier_kinds, subject_hmac, fields, run_id, recorded_at)
VALUES (:request_id, :request_type, :client_scope, :received_on, :due_on, 'open',
        :identifier_kinds, :subject_hmac, :fields, :run_id, :recorded_at)
ON CONFLICT (run_id) DO NOTHING
