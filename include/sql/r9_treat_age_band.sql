-- R9 treatment `age_band`: a birth date becomes the level-1 age band at the time of the
-- response (include.anonymisers.dates: '<18', '18-24', ... '75+'; a test keeps them equal).
-- {age} is r9_age_years.
CASE
    WHEN {column} IS NULL THEN NULL
    WHEN {age} < 18 THEN '<18'
    WHEN {age} < 25 THEN '18-24'
    WHEN {age} < 35 THEN '25-34'
    WHEN {age} < 45 THEN '35-44'
    WHEN {age} < 55 THEN '45-54'
    WHEN {age} < 65 THEN '55-64'
    WHEN {age} < 75 THEN '65-74'
    ELSE '75+'
END
