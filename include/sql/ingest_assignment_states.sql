-- R2, R4: what each assignment of a client may still receive on the as-of day.
-- 'destroyed': destruction requested on or before that day (R4); 'past_term': anonymised,
-- or its term ended on or before that day (R2); 'open': new personal data may be loaded.
SELECT assignment_id,
       CASE
           WHEN status = 'destroyed' OR destruction_requested_on <= :as_of THEN 'destroyed'
           WHEN status = 'anonymised' OR term_ends_on <= :as_of THEN 'past_term'
           ELSE 'open'
       END AS state
FROM assignments
WHERE client_id = :client_id
