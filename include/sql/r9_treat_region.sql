-- R9 treatment `region`: a postcode becomes its region: for NL the two-digit postcode area
-- 'NL-10' .. 'NL-99' (the rows of the regions table), elsewhere the country and the first two
-- characters (include.anonymisers.postcodes.region; a test keeps them equal).
CASE
    WHEN {column} IS NULL OR trim({column}) = '' THEN NULL
    WHEN :country = 'NL' THEN
        CASE WHEN substr(trim({column}), 1, 1) BETWEEN '1' AND '9' AND substr(trim({column}), 2, 1) BETWEEN '0' AND '9'
             THEN 'NL-' || substr(trim({column}), 1, 2)
        END
    ELSE :country || '-' || upper(substr(replace(replace(trim({column}), ' ', ''), '-', ''), 1, 2))
END
