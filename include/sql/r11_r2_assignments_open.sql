-- R11 proof of R2: assignments whose term ended on or before the as-of day that are still
-- marked 'completed' (neither anonymised nor destroyed).
SELECT count(*)
FROM assignments
WHERE client_id = :client_id
  AND status = 'completed'
  AND term_ends_on <= :as_of
