-- One client, one run at a time (design §6): before a step does anything, and while it works, its run
-- proves it still holds the client's lease and pushes the expiry out. No row updated: the lease lapsed
-- and another run took it over (or this run never took it): the step must not run.
UPDATE client_leases
SET heartbeat_at = strftime('%Y-%m-%d %H:%M:%f', 'now') || '000',
    expires_at = strftime('%Y-%m-%d %H:%M:%f', 'now', :ttl_seconds || ' seconds') || '000'
WHERE client_id = :client_id
  AND dag_id = :dag_id
  AND run_id = :run_id
