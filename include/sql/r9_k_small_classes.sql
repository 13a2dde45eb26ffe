-- R9: equivalence classes of the client's anonymised respondents over the quasi-identifiers
-- (data map: gender, age_band, region) with fewer than k members, and the size of the whole
-- anonymised set. NULL (not given) is a value of its own. This GROUP BY is the k-anonymity check.
SELECT COALESCE(sum(CASE WHEN members < :k THEN 1 ELSE 0 END), 0) AS classes,
       COALESCE(sum(CASE WHEN members < :k THEN members ELSE 0 END), 0) AS respondents,
       COALESCE(sum(members), 0) AS anonymised
FROM (SELECT count(*) AS members
      FROM respondents
      WHERE client_id = :client_id AND anonymised_on IS NOT NULL
      GROUP BY COALESCE(gender, ''), COALESCE(age_band, ''), COALESCE(region, '')) AS classes
