-- Ingest (PostgreSQL): the answers of new people who responded.
INSERT INTO responses (respondent_id, client_id, assignment_id, nps, csat, answer_text, ip_address, user_agent)
SELECT respondent_id, :client_id, assignment_id, nps, csat, answer_text, ip_address, user_agent
FROM pg_temp.ingest_staging
WHERE responded_at IS NOT NULL AND NOT known
