-- R11 proof of R9: a derived age band holds a label of the age-band hierarchy
-- (include.anonymisers.dates.AGE_BANDS, every level), never a date or an exact age.
{column} IS NOT NULL AND {column} NOT IN :age_bands
