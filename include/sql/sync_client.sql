-- Config sync: the client's current YAML is the truth for its settings.
INSERT INTO clients (client_id, name, country, retention_months, non_respondent_months,
                     k_anonymity, open_text, destruction_requested_on, synced_at)
VALUES (:client_id, :name, :country, :retention_months, :non_respondent_months,
        :k_anonymity, :open_text, :destruction_requested_on, :synced_at)
ON CONFLICT (client_id) DO UPDATE SET
    name = excluded.name,
    country = excluded.country,
    retention_months = excluded.retention_months,
    non_respondent_months = excluded.non_respondent_months,
    k_anonymity = excluded.k_anonymity,
    open_text = excluded.open_text,
    destruction_requested_on = excluded.destruction_requested_on,
    synced_at = excluded.synced_at
