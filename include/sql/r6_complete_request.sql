-- R6: the request is answered; its outcome holds counts per client, never values.
UPDATE subject_requests
SET status = 'done', completed_at = :completed_at, completed_on = :completed_on,
    outcome = :outcome, export_path = :export_path
WHERE request_id = :request_id
  AND status = 'open'
