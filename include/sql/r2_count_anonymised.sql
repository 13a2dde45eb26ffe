-- R2: how many of an assignment's respondents are anonymised (for the audit event).
SELECT count(*)
FROM respondents
WHERE client_id = :client_id
  AND assignment_id = :assignment_id
  AND anonymised_on IS NOT NULL
