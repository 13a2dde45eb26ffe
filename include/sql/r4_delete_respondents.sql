-- R4: delete one batch of people of destroyed assignments (or of the whole client),
-- anonymised ones included: destruction is not anonymisation.
DELETE FROM respondents
WHERE id IN (SELECT id
             FROM respondents
             WHERE client_id = :client_id
               AND (:whole_client OR assignment_id IN :assignment_ids)
             LIMIT :batch_size)
RETURNING assignment_id, anonymised_on IS NOT NULL AS anonymised
