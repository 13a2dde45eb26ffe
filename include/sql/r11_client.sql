-- R11 reports: a client's settings as the warehouse holds them (the organisation, never a person).
SELECT client_id, name, country, retention_months, non_respondent_months, k_anonymity, open_text,
       destruction_requested_on, destroyed_on
FROM clients
WHERE client_id = :client_id
