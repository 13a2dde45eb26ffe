-- Retention view, R11: each client's newest proof event on or before the view's day.
SELECT client_id, as_of, action, run_id, recorded_at, counts
FROM audit_events
WHERE seq IN (SELECT max(seq)
              FROM audit_events
              WHERE rule = 'R11'
                AND as_of <= :as_of
              GROUP BY client_id)
