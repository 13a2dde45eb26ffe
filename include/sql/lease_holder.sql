-- One client, one run at a time (design §6): who holds the client's lease, and whether it has lapsed
-- by the warehouse's clock. No row: the lease is free.
SELECT dag_id,
       run_id,
       expires_at,
       expires_at <= strftime('%Y-%m-%d %H:%M:%f', 'now') || '000' AS expired
FROM client_leases
WHERE client_id = :client_id
