-- Ingest (PostgreSQL): bulk load of records held back to the end, CSV from an in-memory buffer.
COPY ingest_held (
    record_number, assignment_id, respondent_ref, invited_at, invited_on, responded_at,
    first_name, last_name, email, phone, street, house_number, postcode, city,
    birth_date, gender, marital_status, customer_number, transaction_id, transaction_date,
    complaint_history, nps, csat, answer_text, ip_address, user_agent
) FROM STDIN WITH (FORMAT csv)
