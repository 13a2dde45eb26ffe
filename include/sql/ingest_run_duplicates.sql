-- Ingest summary: files of a run that repeated an earlier delivery; they have no delivery row of their own.
SELECT counts
FROM audit_events
WHERE client_id = :client_id AND run_id = :run_id AND rule = 'INGEST' AND action = 'delivery_duplicate'
ORDER BY seq
