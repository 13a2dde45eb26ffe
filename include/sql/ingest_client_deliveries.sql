-- Deliveries of one client by kind and status.
SELECT file_kind, status, count(*) AS files, coalesce(sum(rows_loaded), 0) AS rows_loaded,
       coalesce(sum(rows_quarantined), 0) AS rows_quarantined
FROM deliveries
WHERE client_id = :client_id
GROUP BY file_kind, status
ORDER BY file_kind, status
