-- Retention view, R2 and R4: assignments that fall due on or before the horizon and still
-- hold personal data: completed ones whose term ends by then (R2), and those whose
-- destruction (or the whole client's) was requested for a day by then (R4).
SELECT a.client_id, a.assignment_id, a.title, a.status, a.completed_on, a.term_ends_on,
       a.destruction_requested_on, c.destruction_requested_on AS client_destruction_requested_on,
       (SELECT count(*)
        FROM respondents r
        WHERE r.client_id = a.client_id
          AND r.assignment_id = a.assignment_id
          AND r.anonymised_on IS NULL) AS personal_respondents,
       (SELECT count(*)
        FROM recordings g
        WHERE g.client_id = a.client_id
          AND g.assignment_id = a.assignment_id
          AND g.state = 'stored') AS recordings
FROM assignments a
JOIN clients c ON c.client_id = a.client_id
WHERE (:client_id IS NULL OR a.client_id = :client_id)
  AND ((a.status = 'completed' AND a.term_ends_on <= :horizon)
       OR (a.status <> 'destroyed'
           AND (a.destruction_requested_on <= :horizon OR c.destruction_requested_on <= :horizon)))
ORDER BY a.client_id, a.assignment_id
