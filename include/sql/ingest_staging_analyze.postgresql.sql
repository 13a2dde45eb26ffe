-- Temporary tables are never analysed automatically: tell the planner how many staged people were met
-- before, so the statements for them read only their own rows of respondents and responses.
ANALYZE pg_temp.ingest_staging (known, responded_at)
