-- R6/R7 erasure: a rejected-rows file was rewritten without the person's rows.
UPDATE quarantine_records
SET rows = :rows
WHERE path = :path
  AND purged_on IS NULL
