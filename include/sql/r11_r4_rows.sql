-- R11 proof of R4: rows of {table} that belong to a destroyed assignment (or one whose
-- destruction was requested on or before the as-of day): destruction deletes them all.
SELECT count(*)
FROM {table}
WHERE client_id = :client_id
  AND assignment_id IN (SELECT assignment_id
                        FROM assignments
                        WHERE client_id = :client_id
                          AND (status = 'destroyed' OR destruction_requested_on <= :as_of))
