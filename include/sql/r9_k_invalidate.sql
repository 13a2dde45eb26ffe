-- R9: the client's anonymised set changed (rows added or deleted): check k again tonight.
UPDATE clients
SET k_anonymity_verified = NULL
WHERE client_id = :client_id
