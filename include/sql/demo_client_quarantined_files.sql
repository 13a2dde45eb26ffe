-- Demo summary: whole files of one client in quarantine, with the delivery they came from.
SELECT q.reason_code, q.reason, d.file_name, d.file_kind
FROM quarantine_records AS q
LEFT JOIN deliveries AS d ON d.id = q.delivery_id
WHERE q.client_id = :client_id AND q.kind = 'file' AND q.purged_on IS NULL
ORDER BY q.id
