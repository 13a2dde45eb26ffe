-- R9 treatment `day`: a timestamp becomes the calendar day in Europe/Amsterdam, written as
-- midnight UTC of that day (so its UTC and Amsterdam dates agree).
date_trunc('day', {column} AT TIME ZONE 'Europe/Amsterdam') AT TIME ZONE 'UTC'
