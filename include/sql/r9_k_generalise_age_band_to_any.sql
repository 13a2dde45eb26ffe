-- R9 k-anonymity, step 4: in classes smaller than k, the age band is withheld ('*').
UPDATE respondents
SET age_band = '*'
WHERE client_id = :client_id
  AND anonymised_on IS NOT NULL
  AND age_band IS NOT NULL
  AND age_band <> '*'
  AND (COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')) IN (
        SELECT COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        FROM respondents
        WHERE client_id = :client_id AND anonymised_on IS NOT NULL
        GROUP BY COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        HAVING count(*) < :k)
