-- R2: the client's completed assignments whose term ended on or before the as-of day.
-- Running assignments have no term; anonymised and destroyed ones hold no personal data.
SELECT assignment_id, term_ends_on
FROM assignments
WHERE client_id = :client_id
  AND status = 'completed'
  AND term_ends_on <= :as_of
ORDER BY term_ends_on, assignment_id
