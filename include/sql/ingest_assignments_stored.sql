-- Ingest: whether the warehouse holds anyone of these assignments of the client yet (a first delivery: no).
SELECT count(*)
FROM (
    SELECT 1 FROM respondents
    WHERE client_id = :client_id AND assignment_id IN :assignment_ids
    LIMIT 1
) AS anyone
