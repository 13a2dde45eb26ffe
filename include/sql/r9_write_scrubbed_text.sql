-- R9: one scrubbed open answer; executed for a whole batch at once.
UPDATE responses
SET {text_column} = :text
WHERE respondent_id = :respondent_id
