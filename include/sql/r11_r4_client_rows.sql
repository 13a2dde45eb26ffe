-- R11 proof of R4: rows of {table} of a client destroyed (or whose destruction was requested
-- on or before the as-of day): destruction deletes them all.
SELECT count(*)
FROM {table}
WHERE client_id = :client_id
