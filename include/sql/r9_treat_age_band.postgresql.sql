-- R9 treatment `age_band`: a birth date becomes the level-1 age band at the time of the
-- response (include.anonymisers.dates: '<18', '18-24', ... '75+'; a test keeps them equal).
-- The same bands as the CASE in r9_treat_age_band.sql, looked up with one age computation
-- per row ({age} is r9_age_years) instead of one per band.
(ARRAY['<18', '18-24', '25-34', '35-44', '45-54', '55-64', '65-74', '75+'])
    [width_bucket({age}, ARRAY[18, 25, 35, 45, 55, 65, 75]::float8[]) + 1]
