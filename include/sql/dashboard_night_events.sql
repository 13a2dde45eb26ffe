-- Retention view, R12: what the nightly runs (and subject requests) did between two as-of
-- days, from the audit trail: rule, action and counts only.
SELECT client_id, as_of, rule, action, run_id, counts
FROM audit_events
WHERE as_of >= :since
  AND as_of <= :as_of
  AND rule IN ('R2', 'R3', 'R4', 'R6', 'R7', 'R9', 'R10')
ORDER BY seq
