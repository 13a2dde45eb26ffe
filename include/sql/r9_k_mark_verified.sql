-- R9: the client's anonymised set is k-anonymous for :k.
UPDATE clients
SET k_anonymity_verified = :k
WHERE client_id = :client_id
