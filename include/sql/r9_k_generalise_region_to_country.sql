-- R9 k-anonymity, step 3: in classes smaller than k, a region or province becomes the country.
UPDATE respondents
SET region = :country
WHERE client_id = :client_id
  AND anonymised_on IS NOT NULL
  AND region IS NOT NULL
  AND region NOT IN (:country, '*')
  AND (COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')) IN (
        SELECT COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        FROM respondents
        WHERE client_id = :client_id AND anonymised_on IS NOT NULL
        GROUP BY COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        HAVING count(*) < :k)
