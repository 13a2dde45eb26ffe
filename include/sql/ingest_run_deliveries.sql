-- Ingest summary: every delivery a run recorded for a client (counts and reason codes, no values).
SELECT id, file_name, file_kind, status, rows_total, rows_loaded, rows_quarantined, rows_suppressed, reasons
FROM deliveries
WHERE client_id = :client_id AND run_id = :run_id
ORDER BY id
