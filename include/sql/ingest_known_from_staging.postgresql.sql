-- Ingest (PostgreSQL): which staged people the warehouse holds already, when the whole file is staged
-- before the upsert (the keys were not read ahead).
INSERT INTO pg_temp.ingest_known (assignment_id, respondent_ref, respondent_id)
SELECT s.assignment_id, s.respondent_ref, r.id
FROM pg_temp.ingest_staging s
JOIN respondents r
  ON r.client_id = :client_id AND r.assignment_id = s.assignment_id AND r.respondent_ref = s.respondent_ref
