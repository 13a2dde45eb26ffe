-- One client, one run at a time (design §6): before a step does anything, and while it works, its run
-- proves it still holds the client's lease and pushes the expiry out. No row updated: the lease lapsed
-- and another run took it over (or this run never took it): the step must not run.
UPDATE client_leases
SET heartbeat_at = now(),
    expires_at = now() + :ttl_seconds * interval '1 second'
WHERE client_id = :client_id
  AND dag_id = :dag_id
  AND run_id = :run_id
