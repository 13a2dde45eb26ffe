-- Ingest (PostgreSQL): a corrected re-delivery of a person replaces what we held (design §4): the
-- client's newest delivery is the controller's truth, and what it no longer delivers we no longer keep.
UPDATE respondents r SET
    invited_at = s.invited_at,
    invited_on = s.invited_on,
    responded_at = s.responded_at,
    first_name = s.first_name,
    last_name = s.last_name,
    email = s.email,
    phone = s.phone,
    street = s.street,
    house_number = s.house_number,
    postcode = s.postcode,
    city = s.city,
    birth_date = s.birth_date,
    gender = s.gender,
    marital_status = s.marital_status,
    customer_number = s.customer_number,
    transaction_id = s.transaction_id,
    transaction_date = s.transaction_date,
    complaint_history = s.complaint_history,
    delivery_id = :delivery_id,
    loaded_at = :loaded_at
FROM pg_temp.ingest_staging s
WHERE s.known AND r.id = s.respondent_id
