-- Retention view: what each client stores now. Each part reads a partial index of
-- migration 0002 (personal rows, anonymised rows) or the recordings' state index.
SELECT client_id, 'personal' AS kind, count(*) AS stored
FROM respondents
WHERE anonymised_on IS NULL
GROUP BY client_id
UNION ALL
SELECT client_id, 'anonymised' AS kind, count(*) AS stored
FROM respondents
WHERE anonymised_on IS NOT NULL
GROUP BY client_id
UNION ALL
SELECT client_id, 'recordings' AS kind, count(*) AS stored
FROM recordings
WHERE state = 'stored'
GROUP BY client_id
