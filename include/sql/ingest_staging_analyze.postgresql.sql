-- Temporary tables are never analysed automatically: give the planner the row count for the upsert joins.
ANALYZE pg_temp.ingest_staging
