-- Recordings ingest: which of these contents the client's recordings store already holds.
SELECT DISTINCT sha256
FROM recordings
WHERE client_id = :client_id
  AND sha256 IN :shas
