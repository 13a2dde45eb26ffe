-- One client, one run at a time (design §6): who holds the client's lease, and whether it has lapsed
-- by the warehouse's clock. No row: the lease is free. Locked until the caller's transaction ends, so
-- the holder read here is the one lease_acquire decides against.
SELECT dag_id,
       run_id,
       expires_at,
       expires_at <= now() AS expired
FROM client_leases
WHERE client_id = :client_id
FOR UPDATE
