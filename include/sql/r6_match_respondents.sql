-- R6: the people a request names, in one client or in all (client_id parameter NULL). Any given identifier
-- matches; each is compared in its stored form (e-mail lower case, phone E.164, keys without
-- spaces in upper case). Anonymised people hold no identifiers left to match.
SELECT id, client_id, assignment_id, respondent_ref, email, phone, customer_number
FROM respondents
WHERE (:client_id IS NULL OR client_id = :client_id)
  AND (email = :email
       OR phone = :phone
       OR UPPER(REPLACE(respondent_ref, ' ', '')) = :respondent_ref
       OR UPPER(REPLACE(customer_number, ' ', '')) = :customer_number)
ORDER BY client_id, assignment_id, id
