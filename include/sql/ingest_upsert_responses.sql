-- Ingest: the answer of every staged person who responded; a corrected re-delivery replaces it.
INSERT INTO responses (respondent_id, client_id, assignment_id, nps, csat, answer_text, ip_address, user_agent)
SELECT r.id, r.client_id, r.assignment_id, s.nps, s.csat, s.answer_text, s.ip_address, s.user_agent
FROM ingest_staging s
JOIN respondents r
  ON r.client_id = :client_id AND r.assignment_id = s.assignment_id AND r.respondent_ref = s.respondent_ref
WHERE s.responded_at IS NOT NULL
ON CONFLICT (respondent_id) DO UPDATE SET
    nps = excluded.nps,
    csat = excluded.csat,
    answer_text = excluded.answer_text,
    ip_address = excluded.ip_address,
    user_agent = excluded.user_agent
