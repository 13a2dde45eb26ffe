-- Demo planner, R3: the invitation days of one client's people who never answered (days only, no person).
SELECT DISTINCT invited_on
FROM respondents
WHERE client_id = :client_id AND responded_at IS NULL AND anonymised_on IS NULL
