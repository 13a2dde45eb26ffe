-- Retention view, R3: people who never answered and fall due by the horizon (invited on or
-- before :cutoff), of the clients with one non-respondent term; those due by the view's day
-- (invited on or before :cutoff_now) are overdue. Reads ix_respondents_non_respondent_due.
SELECT client_id,
       count(*) AS due,
       sum(CASE WHEN invited_on <= :cutoff_now THEN 1 ELSE 0 END) AS overdue
FROM respondents
WHERE client_id IN :client_ids
  AND responded_at IS NULL
  AND anonymised_on IS NULL
  AND invited_on <= :cutoff
GROUP BY client_id
