-- Retention view: what each client (or the one client asked for) stores now. Each part reads a
-- partial index of migration 0002 (personal rows, anonymised rows) or the recordings' indexes.
SELECT client_id, 'personal' AS kind, count(*) AS stored
FROM respondents
WHERE anonymised_on IS NULL
  AND (:client_id IS NULL OR client_id = :client_id)
GROUP BY client_id
UNION ALL
SELECT client_id, 'anonymised' AS kind, count(*) AS stored
FROM respondents
WHERE anonymised_on IS NOT NULL
  AND (:client_id IS NULL OR client_id = :client_id)
GROUP BY client_id
UNION ALL
SELECT client_id, 'recordings' AS kind, count(*) AS stored
FROM recordings
WHERE state = 'stored'
  AND (:client_id IS NULL OR client_id = :client_id)
GROUP BY client_id
