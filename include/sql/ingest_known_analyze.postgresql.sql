-- Temporary tables are never analysed automatically: tell the planner how few people are known (mostly none).
ANALYZE pg_temp.ingest_known
