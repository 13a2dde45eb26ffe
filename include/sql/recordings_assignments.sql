-- Recordings ingest (R2, R4): the client's assignments, with the reason a recording
-- may no longer be stored for one (NULL when it may).
SELECT a.assignment_id,
       CASE
           WHEN a.status = 'destroyed'
                OR a.destruction_requested_on <= :as_of
                OR c.destruction_requested_on <= :as_of THEN 'assignment_destroyed'
           WHEN a.status = 'anonymised' OR a.term_ends_on <= :as_of THEN 'assignment_past_term'
       END AS refusal
FROM assignments a
JOIN clients c ON c.client_id = a.client_id
WHERE a.client_id = :client_id
