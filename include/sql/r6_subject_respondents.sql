-- R6 access/export: every column held about the matched people (new columns are included without edits).
SELECT *
FROM respondents
WHERE id IN :ids
ORDER BY id
