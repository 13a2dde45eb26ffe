-- R2/R9: anonymise the answers of the same batch (run before r2_anonymise_respondents,
-- which marks the batch done). {treatments} is generated from the data map; open text
-- is scrubbed just before (r9_write_scrubbed_text) or dropped here (client open_text: drop).
-- An answer's key is its respondent's id, so the batch is a range of the primary key; every
-- treatment gives the same result when applied twice.
UPDATE responses
SET {treatments}
WHERE respondent_id BETWEEN :first_id AND :last_id
  AND client_id = :client_id
  AND assignment_id = :assignment_id
