-- R10: these quarantined items are gone from disk.
UPDATE quarantine_records
SET purged_on = :as_of
WHERE purged_on IS NULL
  AND id IN :ids
