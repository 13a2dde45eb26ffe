-- R11 monthly report: the audit events that anonymised or destroyed the client's assignments
-- (R2, R4): the evidence an auditor follows from the report into the trail.
SELECT assignment_id, rule, action, as_of, run_id, seq, hash
FROM audit_events
WHERE client_id = :client_id
  AND action IN ('assignment_anonymised', 'assignment_destroyed', 'client_destroyed')
ORDER BY seq
