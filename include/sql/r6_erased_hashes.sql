-- R11: keyed hashes of people erased from one client (its own requests and those for all clients),
-- with the latest moment each was erased.
SELECT identifier_kind, identifier_hmac, MAX(erased_at) AS erased_at
FROM erased_subjects
WHERE client_scope IN (:client_id, :all)
GROUP BY identifier_kind, identifier_hmac
