-- Ingest (PostgreSQL): the answers of people met before who responded; a corrected re-delivery replaces it.
INSERT INTO responses (respondent_id, client_id, assignment_id, nps, csat, answer_text, ip_address, user_agent)
SELECT respondent_id, :client_id, assignment_id, nps, csat, answer_text, ip_address, user_agent
FROM pg_temp.ingest_staging
WHERE responded_at IS NOT NULL AND known
ON CONFLICT (respondent_id) DO UPDATE SET
    nps = excluded.nps,
    csat = excluded.csat,
    answer_text = excluded.answer_text,
    ip_address = excluded.ip_address,
    user_agent = excluded.user_agent
