-- One client, one run at a time (design §6): take the client's lease when it is free (no row), lapsed,
-- or already this run's (a retry or a cleared task re-enters and keeps its acquired_at). One statement:
-- of two runs racing for it, the second waits on the first one's row, then fails the WHERE against it
-- and gets no row back. Times are the warehouse's clock.
INSERT INTO client_leases (client_id, dag_id, run_id, acquired_at, heartbeat_at, expires_at)
VALUES (:client_id, :dag_id, :run_id, now(), now(), now() + :ttl_seconds * interval '1 second')
ON CONFLICT (client_id) DO UPDATE
SET dag_id = excluded.dag_id,
    run_id = excluded.run_id,
    acquired_at = CASE
                      WHEN client_leases.dag_id = excluded.dag_id AND client_leases.run_id = excluded.run_id
                          THEN client_leases.acquired_at
                      ELSE excluded.acquired_at
                  END,
    heartbeat_at = excluded.heartbeat_at,
    expires_at = excluded.expires_at
WHERE (client_leases.dag_id = excluded.dag_id AND client_leases.run_id = excluded.run_id)
   OR client_leases.expires_at <= excluded.heartbeat_at
RETURNING acquired_at = heartbeat_at AS fresh, expires_at
