-- R11 monthly report: the proof events of a client's nights in a month (reads ix_audit_events_night).
SELECT seq, as_of, run_id, action, counts, hash
FROM audit_events
WHERE client_id = :client_id
  AND as_of BETWEEN :first AND :last
  AND rule = 'R11'
ORDER BY seq
