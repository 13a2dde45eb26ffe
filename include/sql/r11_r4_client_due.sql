-- R11 proof of R4: whether the whole client is destroyed or asked for destruction by the as-of day.
SELECT COALESCE(destroyed_on IS NOT NULL OR destruction_requested_on <= :as_of, false)
FROM clients
WHERE client_id = :client_id
