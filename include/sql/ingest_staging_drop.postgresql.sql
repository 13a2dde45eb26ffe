-- Ingest staging: leftovers of an earlier attempt on this connection (pg_temp: never a real table).
DROP TABLE IF EXISTS pg_temp.ingest_staging
