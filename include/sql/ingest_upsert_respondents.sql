-- Ingest: load staged people (design §4). A corrected re-delivery of a person (same client,
-- assignment and respondent_ref) replaces what we held: the client's newest delivery is the
-- controller's truth, and what it no longer delivers we no longer keep.
-- 'WHERE true' lets SQLite parse ON CONFLICT after INSERT ... SELECT.
INSERT INTO respondents (
    client_id, assignment_id, respondent_ref, invited_at, invited_on, responded_at,
    first_name, last_name, email, phone, street, house_number, postcode, city,
    birth_date, gender, marital_status, customer_number, transaction_id, transaction_date,
    complaint_history, delivery_id, loaded_at
)
SELECT :client_id, assignment_id, respondent_ref, invited_at, invited_on, responded_at,
       first_name, last_name, email, phone, street, house_number, postcode, city,
       birth_date, gender, marital_status, customer_number, transaction_id, transaction_date,
       complaint_history, :delivery_id, :loaded_at
FROM ingest_staging
WHERE true
ON CONFLICT (client_id, assignment_id, respondent_ref) DO UPDATE SET
    invited_at = excluded.invited_at,
    invited_on = excluded.invited_on,
    responded_at = excluded.responded_at,
    first_name = excluded.first_name,
    last_name = excluded.last_name,
    email = excluded.email,
    phone = excluded.phone,
    street = excluded.street,
    house_number = excluded.house_number,
    postcode = excluded.postcode,
    city = excluded.city,
    birth_date = excluded.birth_date,
    gender = excluded.gender,
    marital_status = excluded.marital_status,
    customer_number = excluded.customer_number,
    transaction_id = excluded.transaction_id,
    transaction_date = excluded.transaction_date,
    complaint_history = excluded.complaint_history,
    delivery_id = excluded.delivery_id,
    loaded_at = excluded.loaded_at
