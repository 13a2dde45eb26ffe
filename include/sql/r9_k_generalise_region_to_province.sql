-- R9 k-anonymity, step 1: in classes smaller than k, a region ('NL-12') becomes its province.
UPDATE respondents
SET region = (SELECT g.province FROM regions g WHERE g.region = respondents.region)
WHERE client_id = :client_id
  AND anonymised_on IS NOT NULL
  AND region IN (SELECT region FROM regions)
  AND (COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')) IN (
        SELECT COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        FROM respondents
        WHERE client_id = :client_id AND anonymised_on IS NOT NULL
        GROUP BY COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
        HAVING count(*) < :k)
