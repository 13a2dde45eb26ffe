-- R11 proof of R10: every recording row of the client with where its file lives, to compare
-- with the files in the recordings store.
SELECT stored_path, state
FROM recordings
WHERE client_id = :client_id
