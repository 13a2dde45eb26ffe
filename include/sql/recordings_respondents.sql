-- Recordings ingest: the respondents a manifest links recordings to (not anonymised, R9).
SELECT respondent_ref, id
FROM respondents
WHERE client_id = :client_id
  AND assignment_id = :assignment_id
  AND respondent_ref IN :refs
  AND anonymised_on IS NULL
