-- R11: a column that must be empty at term (treatments remove, age_band, region, and
-- scrub_text for clients that drop open text) still holds a value.
{column} IS NOT NULL
