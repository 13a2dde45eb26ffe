-- R11: the identifiers still held for one client, to check against erased and suppressed hashes.
SELECT id, email, phone, respondent_ref, customer_number, loaded_at
FROM respondents
WHERE client_id = :client_id
  AND anonymised_on IS NULL
