-- R11 proof of R9: a derived region holds a generalised value of the client's country:
-- the country itself, '<country>-XX' (postcode area or province) or '*' (suppressed),
-- never a postcode.
{column} IS NOT NULL AND {column} <> '*' AND {column} <> :country AND {column} NOT LIKE :region_pattern
