-- R6/R7 erasure: a quarantined file that held the person is gone before its term.
UPDATE quarantine_records
SET purged_on = :purged_on
WHERE path = :path
  AND purged_on IS NULL
