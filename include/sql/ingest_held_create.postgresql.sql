-- Ingest (PostgreSQL): valid records whose key occurs in more than one chunk of the file. They wait here
-- until every chunk is checked: if the key proves repeated, all its records are withdrawn, none loaded.
CREATE TEMP TABLE ingest_held (LIKE pg_temp.ingest_staging INCLUDING DEFAULTS) ON COMMIT DROP
