-- R6/R7 erasure: the matched people's answers.
DELETE FROM responses
WHERE respondent_id IN :ids
RETURNING assignment_id
