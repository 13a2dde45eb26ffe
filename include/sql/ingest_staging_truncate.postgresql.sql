-- Ingest staging (PostgreSQL): a chunk is upserted; empty the table for the next one.
TRUNCATE pg_temp.ingest_staging
