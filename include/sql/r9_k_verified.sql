-- R9: the k for which the client's anonymised set was last verified (NULL: changed since).
SELECT k_anonymity_verified
FROM clients
WHERE client_id = :client_id
