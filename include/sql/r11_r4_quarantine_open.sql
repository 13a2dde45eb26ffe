-- R11 proof of R4: quarantined items of a destroyed client that are not purged.
SELECT count(*)
FROM quarantine_records
WHERE client_id = :client_id
  AND purged_on IS NULL
