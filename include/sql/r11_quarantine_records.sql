-- R11 proof of R10: the client's quarantine records with the path of their file (relative
-- to KCM_HOME/quarantine), purged or not, to compare with the files on disk.
SELECT path, purged_on IS NOT NULL AS purged
FROM quarantine_records
WHERE client_id = :client_id
