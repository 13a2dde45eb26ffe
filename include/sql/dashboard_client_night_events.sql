-- Retention view, R12: what one client's nightly runs (and subject requests) did between two
-- as-of days, from the audit trail (ix_audit_events_night): rule, action and counts only.
SELECT client_id, as_of, rule, action, run_id, counts
FROM audit_events
WHERE client_id = :client_id
  AND as_of >= :since
  AND as_of <= :as_of
  AND rule IN ('R2', 'R3', 'R4', 'R6', 'R7', 'R9', 'R10')
ORDER BY seq
