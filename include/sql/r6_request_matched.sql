-- R6: what the first try of a request found, kept before anything changes, so a retry after a
-- partial erasure still reports the people the request was about.
UPDATE subject_requests
SET outcome = :outcome
WHERE request_id = :request_id
  AND status = 'open'
