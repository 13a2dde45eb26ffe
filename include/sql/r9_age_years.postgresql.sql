-- R9: whole years of age on the respondent's reference day: the Amsterdam day of the
-- response, or the invitation day when there is none. age() counts a birthday on its month
-- and day, so a 29 February birthday counts from 1 March in other years, as
-- include.anonymisers.dates.age_on does.
date_part('year', age(COALESCE(CAST(responded_at AT TIME ZONE 'Europe/Amsterdam' AS date), invited_on), {column}))
