-- R9 k-anonymity, step 2: in classes smaller than k, a level-1 age band becomes its level-2
-- band (include.anonymisers.dates.generalise_age_band(band, 2)).
UPDATE respondents
SET age_band = CASE age_band
                   WHEN '18-24' THEN '18-34'
                   WHEN '25-34' THEN '18-34'
                   WHEN '35-44' THEN '35-54'
                   WHEN '45-54' THEN '35-54'
                   ELSE '55+'
               END
WHERE client_id = :client_id
  AND anonymised_on IS NOT NULL
  AND age_band IN ('18-24', '25-34', '35-44', '45-54', '55-64', '65-74', '75+')
  AND (COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')) IN (
        SELECT COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        FROM respondents
        WHERE client_id = :client_id AND anonymised_on IS NOT NULL
        GROUP BY COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        HAVING count(*) < :k)
