-- R11 proof of R2: respondents of assignments whose term ended on or before the as-of day
-- that are not anonymised (reads ix_respondents_anonymise_due: only rows not anonymised).
SELECT count(*)
FROM respondents
WHERE client_id = :client_id
  AND anonymised_on IS NULL
  AND assignment_id IN (SELECT assignment_id
                        FROM assignments
                        WHERE client_id = :client_id
                          AND term_ends_on <= :as_of)
