-- R4: assignments with a destruction request (their own or the whole client's) on or
-- before the as-of day that are not destroyed yet. A request dated later does nothing yet.
SELECT a.assignment_id
FROM assignments a
JOIN clients c ON c.client_id = a.client_id
WHERE a.client_id = :client_id
  AND a.status <> 'destroyed'
  AND (a.destruction_requested_on <= :as_of OR c.destruction_requested_on <= :as_of)
ORDER BY a.assignment_id
