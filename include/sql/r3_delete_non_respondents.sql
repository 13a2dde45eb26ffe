-- R3: delete one batch of invited people with no response, invited on or before the cutoff
-- (include.terms.non_respondent_cutoff). Both the batch and the rows around it are read from
-- ix_respondents_non_respondent_due, which holds only people who never answered and are not
-- anonymised: a night with nothing due reads nothing, however many people are stored.
DELETE FROM respondents
WHERE client_id = :client_id
  AND responded_at IS NULL
  AND anonymised_on IS NULL
  AND invited_on <= :cutoff
  AND id IN (SELECT id
             FROM respondents
             WHERE client_id = :client_id
               AND responded_at IS NULL
               AND anonymised_on IS NULL
               AND invited_on <= :cutoff
             LIMIT :batch_size)
RETURNING assignment_id
