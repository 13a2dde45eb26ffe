-- Ingest (PostgreSQL): every key (assignment_id, respondent_ref) of one file, read before its first chunk.
CREATE TEMP TABLE ingest_keys (
    assignment_id text NOT NULL,
    respondent_ref text NOT NULL
) ON COMMIT DROP
