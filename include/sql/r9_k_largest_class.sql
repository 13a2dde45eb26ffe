-- R9: the largest class with members to spare (more than k) for the suppressed class.
SELECT COALESCE(gender, '') AS gender, COALESCE(age_band, '') AS age_band, COALESCE(region, '') AS region,
       count(*) AS members
FROM respondents
WHERE client_id = :client_id AND anonymised_on IS NOT NULL
  AND NOT (COALESCE(gender, '') = '*' AND COALESCE(age_band, '') = '*' AND COALESCE(region, '') = '*')
GROUP BY COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')
HAVING count(*) > :k
ORDER BY count(*) DESC, 1, 2, 3
LIMIT 1
