-- R6 access/export: where the data came from (GDPR art. 15(1)(g)): the deliveries that brought it.
SELECT id, client_id, file_name, file_kind, received_at
FROM deliveries
WHERE id IN (SELECT delivery_id FROM respondents WHERE id IN :ids)
   OR id IN (SELECT delivery_id FROM recordings WHERE respondent_id IN :ids)
ORDER BY id
