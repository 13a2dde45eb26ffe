-- R11 monthly report: every assignment of the client with its term and what happened at it.
SELECT assignment_id, title, status, completed_on, term_ends_on, anonymised_on,
       destruction_requested_on, destroyed_on
FROM assignments
WHERE client_id = :client_id
ORDER BY assignment_id
