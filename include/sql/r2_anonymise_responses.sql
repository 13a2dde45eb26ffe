-- R2/R9: anonymise the answers of the same batch (run before r2_anonymise_respondents,
-- which marks the batch done). {treatments} is generated from the data map; open text
-- is scrubbed just before (r9_write_scrubbed_text) or dropped here (client open_text: drop).
UPDATE responses
SET {treatments}
WHERE respondent_id IN (SELECT id
                        FROM respondents
                        WHERE client_id = :client_id
                          AND assignment_id = :assignment_id
                          AND anonymised_on IS NULL
                          AND id <= :last_id)
