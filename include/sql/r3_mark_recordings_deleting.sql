-- R3: recordings of invited people who never answered and whose invitation is past the
-- non-respondent term are marked for deletion first, so a crash loses track of none.
UPDATE recordings
SET state = 'deleting', delete_rule = 'R3'
WHERE client_id = :client_id
  AND state = 'stored'
  AND respondent_id IN (SELECT id
                        FROM respondents
                        WHERE client_id = :client_id
                          AND responded_at IS NULL
                          AND anonymised_on IS NULL
                          AND invited_on <= :cutoff)
