-- R11 proof of R3: invited people who never answered, invited on or before the cutoff
-- (include.terms.non_respondent_cutoff), still held (reads ix_respondents_non_respondent_due).
SELECT count(*)
FROM respondents
WHERE client_id = :client_id
  AND responded_at IS NULL
  AND anonymised_on IS NULL
  AND invited_on <= :cutoff
