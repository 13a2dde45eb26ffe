-- Ingest (PostgreSQL): every chunk is checked; the records held back join the staging table for the end.
INSERT INTO pg_temp.ingest_staging SELECT * FROM pg_temp.ingest_held
