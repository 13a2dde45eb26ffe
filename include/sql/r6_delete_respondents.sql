-- R6/R7 erasure: the matched people.
DELETE FROM respondents
WHERE id IN :ids
RETURNING assignment_id
