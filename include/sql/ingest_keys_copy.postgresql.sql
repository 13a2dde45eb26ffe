-- Ingest (PostgreSQL): bulk load of a file's keys, CSV from an in-memory buffer.
COPY ingest_keys (assignment_id, respondent_ref) FROM STDIN WITH (FORMAT csv)
