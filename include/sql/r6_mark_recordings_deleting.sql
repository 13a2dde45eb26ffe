-- R6/R7 erasure: the matched people's recordings are marked for deletion first and committed, so a
-- crash loses track of none (include.retention.finish_deletions deletes the files, then the rows).
UPDATE recordings
SET state = 'deleting', delete_rule = :rule
WHERE state = 'stored'
  AND respondent_id IN :ids
