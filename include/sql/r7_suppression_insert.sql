-- R7: list one identifier hash of an objecting person; listing it again changes nothing.
INSERT INTO suppression_list (client_scope, identifier_kind, identifier_hmac, request_id, added_on)
VALUES (:client_scope, :identifier_kind, :identifier_hmac, :request_id, :added_on)
ON CONFLICT (client_scope, identifier_kind, identifier_hmac) DO NOTHING
