-- Duplicate keys across chunks of one file: take the earlier, already staged records back out.
DELETE FROM ingest_staging WHERE record_number IN :records RETURNING record_number
