-- What the warehouse holds for one client, in counts: people, answers, files, quarantine.
SELECT
    (SELECT count(*) FROM assignments WHERE client_id = :client_id) AS assignments,
    (SELECT count(*) FROM respondents WHERE client_id = :client_id) AS invited,
    (SELECT count(*) FROM respondents WHERE client_id = :client_id AND responded_at IS NOT NULL) AS responded,
    (SELECT count(*) FROM respondents WHERE client_id = :client_id AND responded_at IS NULL) AS non_respondents,
    (SELECT count(*) FROM respondents WHERE client_id = :client_id AND anonymised_on IS NOT NULL) AS anonymised,
    (SELECT count(*) FROM responses WHERE client_id = :client_id) AS responses,
    (SELECT count(*) FROM recordings WHERE client_id = :client_id AND state = 'stored') AS recordings,
    (SELECT count(*) FROM deliveries WHERE client_id = :client_id) AS deliveries,
    (SELECT count(*) FROM quarantine_records WHERE client_id = :client_id AND purged_on IS NULL) AS quarantined_items,
    (SELECT coalesce(sum(rows), 0) FROM quarantine_records
     WHERE client_id = :client_id AND purged_on IS NULL AND kind = 'rows') AS quarantined_rows
