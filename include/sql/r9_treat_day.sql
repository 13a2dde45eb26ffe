-- R9 treatment `day`: a timestamp becomes the calendar day in Europe/Amsterdam, written as
-- midnight UTC of that day (so its UTC and Amsterdam dates agree). SQLite has no time zone
-- rules: kcm_local_date is registered on the connection by include.retention.
CASE WHEN {column} IS NULL THEN NULL ELSE kcm_local_date({column}) || ' 00:00:00.000000' END
