-- R3: delete one batch of invited people with no response, invited on or before the cutoff
-- (include.terms.non_respondent_cutoff). Runs on ix_respondents_non_respondent_due, which
-- holds only people who never answered and are not anonymised: the cost follows what is due.
DELETE FROM respondents
WHERE id IN (SELECT id
             FROM respondents
             WHERE client_id = :client_id
               AND responded_at IS NULL
               AND anonymised_on IS NULL
               AND invited_on <= :cutoff
             LIMIT :batch_size)
RETURNING assignment_id
