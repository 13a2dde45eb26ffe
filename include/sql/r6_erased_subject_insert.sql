-- R6/R7: keyed hash of an erased person's identifier, for the proof (R11); recording it twice changes nothing.
INSERT INTO erased_subjects (request_id, identifier_kind, identifier_hmac, client_scope, erased_at)
VALUES (:request_id, :identifier_kind, :identifier_hmac, :client_scope, :erased_at)
ON CONFLICT (request_id, identifier_kind, identifier_hmac) DO NOTHING
