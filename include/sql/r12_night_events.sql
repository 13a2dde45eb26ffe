-- R12: the audit events of one client's night (the demo's and the operator's summary).
SELECT rule, action, assignment_id, counts
FROM audit_events
WHERE client_id = :client_id
  AND as_of = :as_of
ORDER BY seq
