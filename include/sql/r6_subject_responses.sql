-- R6 access/export: the answers of the matched people.
SELECT *
FROM responses
WHERE respondent_id IN :ids
ORDER BY respondent_id
