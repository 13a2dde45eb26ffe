-- R11 proof of R10: recordings whose respondent is gone (deleted by R3, R4 or an erasure):
-- the voice of a person we no longer hold.
SELECT count(*)
FROM recordings
WHERE client_id = :client_id
  AND NOT EXISTS (SELECT 1 FROM respondents r WHERE r.id = recordings.respondent_id)
