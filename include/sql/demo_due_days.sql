-- Demo planner: the days on which something of one client falls due (R2 term end, R4 destruction
-- requested for the assignment or the whole client, R10 quarantine term). Dates only; the nightly
-- run itself decides what is due on its as-of day.
SELECT term_ends_on AS due_on
FROM assignments
WHERE client_id = :client_id AND status = 'completed' AND term_ends_on IS NOT NULL
UNION
SELECT destruction_requested_on
FROM assignments
WHERE client_id = :client_id AND status <> 'destroyed' AND destruction_requested_on IS NOT NULL
UNION
SELECT destruction_requested_on
FROM clients
WHERE client_id = :client_id AND destroyed_on IS NULL AND destruction_requested_on IS NOT NULL
UNION
SELECT purge_on
FROM quarantine_records
WHERE client_id = :client_id AND purged_on IS NULL
