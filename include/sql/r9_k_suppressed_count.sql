-- R9: how many of the client's anonymised respondents are suppressed (all quasi-identifiers '*').
SELECT count(*)
FROM respondents
WHERE client_id = :client_id
  AND anonymised_on IS NOT NULL
  AND gender = '*' AND age_band = '*' AND region = '*'
