-- R11 proof of R10: earlier deliveries of the client with the same name and size as files
-- still in the landing zone (their checksums decide whether the file was already handled).
SELECT file_name, size_bytes, sha256
FROM deliveries
WHERE client_id = :client_id
  AND file_name IN :names
