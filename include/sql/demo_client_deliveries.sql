-- Demo summary: every delivery file of one client with its outcome (counts and reason codes only).
SELECT id, file_name, file_kind, status, rows_total, rows_loaded, rows_quarantined, reasons
FROM deliveries
WHERE client_id = :client_id
ORDER BY id
