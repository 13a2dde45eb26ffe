-- Ingest staging (SQLite): one valid record; executed for many records at once.
INSERT INTO ingest_staging (
    record_number, assignment_id, respondent_ref, invited_at, invited_on, responded_at,
    first_name, last_name, email, phone, street, house_number, postcode, city,
    birth_date, gender, marital_status, customer_number, transaction_id, transaction_date,
    complaint_history, nps, csat, answer_text, ip_address, user_agent
) VALUES (
    :record_number, :assignment_id, :respondent_ref, :invited_at, :invited_on, :responded_at,
    :first_name, :last_name, :email, :phone, :street, :house_number, :postcode, :city,
    :birth_date, :gender, :marital_status, :customer_number, :transaction_id, :transaction_date,
    :complaint_history, :nps, :csat, :answer_text, :ip_address, :user_agent
)
