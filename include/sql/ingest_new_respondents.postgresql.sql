-- Ingest (PostgreSQL): people new to the warehouse, with the ids they drew when staged. A plain
-- INSERT: the upsert's conflict check per row is the work ingest_match_respondents did once.
INSERT INTO respondents (
    id, client_id, assignment_id, respondent_ref, invited_at, invited_on, responded_at,
    first_name, last_name, email, phone, street, house_number, postcode, city,
    birth_date, gender, marital_status, customer_number, transaction_id, transaction_date,
    complaint_history, delivery_id, loaded_at
)
SELECT respondent_id, :client_id, assignment_id, respondent_ref, invited_at, invited_on, responded_at,
       first_name, last_name, email, phone, street, house_number, postcode, city,
       birth_date, gender, marital_status, customer_number, transaction_id, transaction_date,
       complaint_history, :delivery_id, :loaded_at
FROM pg_temp.ingest_staging
WHERE NOT known
