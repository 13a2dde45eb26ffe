-- R9 treatment `region`: a postcode becomes its region: for NL the two-digit postcode area
-- ('NL-12', known to the regions table), elsewhere the country and the first two characters
-- (include.anonymisers.postcodes.region; a test keeps them equal).
CASE
    WHEN {column} IS NULL OR trim({column}) = '' THEN NULL
    WHEN :country = 'NL' THEN (SELECT g.region FROM regions g WHERE g.region = 'NL-' || substr(trim({column}), 1, 2))
    ELSE :country || '-' || upper(substr(replace(replace(trim({column}), ' ', ''), '-', ''), 1, 2))
END
