-- Ingest (PostgreSQL): a corrected re-delivery says the person did not respond after all: their answer goes.
-- Only people met before can have an answer stored.
DELETE FROM responses r
USING pg_temp.ingest_staging s
WHERE s.known AND s.responded_at IS NULL AND r.respondent_id = s.respondent_id
