-- R10: quarantined items of the client whose own term (purge_on) is on or before the as-of day.
SELECT id, path
FROM quarantine_records
WHERE client_id = :client_id
  AND purged_on IS NULL
  AND purge_on <= :as_of
ORDER BY id
