-- R10: quarantine files of the client that are still within their term (not strays).
SELECT path
FROM quarantine_records
WHERE client_id = :client_id
  AND purged_on IS NULL
