-- One client, one run at a time (design §6): the run's last task frees the client's lease, but only
-- a lease this run still holds; one taken over after it lapsed belongs to the other run now.
DELETE FROM client_leases
WHERE client_id = :client_id
  AND dag_id = :dag_id
  AND run_id = :run_id
