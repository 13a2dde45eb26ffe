-- R9: whole years of age on the respondent's reference day: the Amsterdam day of the
-- response, or the invitation day when there is none. (YYYYMMDD - YYYYMMDD) / 10000 counts
-- a birthday on its month and day, so a 29 February birthday counts from 1 March in
-- other years, as include.anonymisers.dates.age_on does.
((CAST(strftime('%Y%m%d', COALESCE(kcm_local_date(responded_at), invited_on)) AS INTEGER)
  - CAST(strftime('%Y%m%d', {column}) AS INTEGER)) / 10000)
