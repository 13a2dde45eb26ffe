-- R11 monthly report: the as-of days of a month on which the client's nights recorded events.
SELECT DISTINCT as_of
FROM audit_events
WHERE client_id = :client_id
  AND as_of BETWEEN :first AND :last
ORDER BY as_of
