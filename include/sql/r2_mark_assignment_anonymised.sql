-- R2: the assignment holds no personal data any more.
UPDATE assignments
SET status = 'anonymised', anonymised_on = :as_of
WHERE client_id = :client_id
  AND assignment_id = :assignment_id
  AND status = 'completed'
