-- Ingest staging: leftovers of an earlier attempt on this connection.
DROP TABLE IF EXISTS temp.ingest_staging
