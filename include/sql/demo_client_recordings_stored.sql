-- Demo summary: recordings of one client in the recordings store.
SELECT count(*) FROM recordings WHERE client_id = :client_id AND state = 'stored'
