-- Retention view: every client the nightly runs know, with its terms (no personal data).
SELECT client_id, name, country, retention_months, non_respondent_months, k_anonymity,
       destruction_requested_on, destroyed_on
FROM clients
ORDER BY client_id
