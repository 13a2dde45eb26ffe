-- R9 k-anonymity, step 5: rows still in classes smaller than k are suppressed: every
-- quasi-identifier withheld ('*'). Scores and dates stay, so counts and means survive.
UPDATE respondents
SET gender = '*', age_band = '*', region = '*'
WHERE client_id = :client_id
  AND anonymised_on IS NOT NULL
  AND NOT (COALESCE(gender, '') = '*' AND COALESCE(age_band, '') = '*' AND COALESCE(region, '') = '*')
  AND (COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')) IN (
        SELECT COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        FROM respondents
        WHERE client_id = :client_id AND anonymised_on IS NOT NULL
        GROUP BY COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        HAVING count(*) < :k)
