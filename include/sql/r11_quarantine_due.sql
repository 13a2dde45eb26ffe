-- R11 proof of R10: quarantined items past their own term (purge_on) not purged (reads ix_quarantine_due).
SELECT count(*)
FROM quarantine_records
WHERE client_id = :client_id
  AND purged_on IS NULL
  AND purge_on <= :as_of
