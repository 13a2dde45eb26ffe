-- R7: the suppression hashes that apply to one client: its own entries and those for all clients.
SELECT identifier_kind, identifier_hmac
FROM suppression_list
WHERE client_scope IN (:client_id, :all)
