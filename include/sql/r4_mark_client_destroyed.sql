-- R4: the whole client is destroyed.
UPDATE clients
SET destroyed_on = :as_of
WHERE client_id = :client_id
  AND destroyed_on IS NULL
