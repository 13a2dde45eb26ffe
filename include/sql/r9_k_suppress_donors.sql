-- R9: move :needed members (lowest ids) of a large class into the suppressed class, so that
-- class too has at least k members.
UPDATE respondents
SET gender = '*', age_band = '*', region = '*'
WHERE id IN (SELECT id
             FROM respondents
             WHERE client_id = :client_id AND anonymised_on IS NOT NULL
               AND COALESCE(gender, '') = :gender
               AND COALESCE(age_band, '') = :age_band
               AND COALESCE(region, '') = :region
             ORDER BY id
             LIMIT :needed)
