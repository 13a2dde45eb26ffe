-- Ingest (PostgreSQL): which of the file's keys the warehouse holds already, found once before any chunk
-- is loaded; each chunk then looks them up here instead of in respondents, which grows as chunks load.
INSERT INTO pg_temp.ingest_known (assignment_id, respondent_ref, respondent_id)
SELECT k.assignment_id, k.respondent_ref, r.id
FROM pg_temp.ingest_keys k
JOIN respondents r
  ON r.client_id = :client_id AND r.assignment_id = k.assignment_id AND r.respondent_ref = k.respondent_ref
