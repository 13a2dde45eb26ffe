-- R4: every quarantined item of the client not purged yet, whatever its term: quarantined
-- rows cannot be told apart by assignment without reading them.
SELECT id, path
FROM quarantine_records
WHERE client_id = :client_id
  AND purged_on IS NULL
ORDER BY id
