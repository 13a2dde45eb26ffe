-- R4: delete one batch of answers of destroyed assignments (or of the whole client).
DELETE FROM responses
WHERE respondent_id IN (SELECT respondent_id
                        FROM responses
                        WHERE client_id = :client_id
                          AND (:whole_client OR assignment_id IN :assignment_ids)
                        LIMIT :batch_size)
RETURNING assignment_id
