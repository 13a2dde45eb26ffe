-- R6 access/export: the call recordings of the matched people.
SELECT *
FROM recordings
WHERE respondent_id IN :ids
ORDER BY id
