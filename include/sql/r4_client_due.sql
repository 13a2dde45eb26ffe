-- R4: whether the whole client asked for destruction on or before the as-of day.
SELECT destruction_requested_on IS NOT NULL AND destruction_requested_on <= :as_of
FROM clients
WHERE client_id = :client_id
