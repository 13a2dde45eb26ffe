-- R11: the client's assignments and client-wide destruction date as the warehouse holds them,
-- to compare with the client config the night was run with.
SELECT a.assignment_id, a.completed_on, a.term_ends_on, a.destruction_requested_on,
       c.destruction_requested_on AS client_destruction_requested_on
FROM clients c
LEFT JOIN assignments a ON a.client_id = c.client_id
WHERE c.client_id = :client_id
