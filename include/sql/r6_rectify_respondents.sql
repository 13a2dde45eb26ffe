-- R6 rectification: set the given fields of the matched people; a field not given keeps its value.
-- The columns are the data map's rectifiable ones (include.subject_requests.rectifiable_fields).
UPDATE respondents
SET first_name = CASE WHEN :set_first_name THEN :first_name ELSE first_name END,
    last_name = CASE WHEN :set_last_name THEN :last_name ELSE last_name END,
    email = CASE WHEN :set_email THEN :email ELSE email END,
    phone = CASE WHEN :set_phone THEN :phone ELSE phone END,
    street = CASE WHEN :set_street THEN :street ELSE street END,
    house_number = CASE WHEN :set_house_number THEN :house_number ELSE house_number END,
    postcode = CASE WHEN :set_postcode THEN :postcode ELSE postcode END,
    city = CASE WHEN :set_city THEN :city ELSE city END,
    birth_date = CASE WHEN :set_birth_date THEN :birth_date ELSE birth_date END,
    gender = CASE WHEN :set_gender THEN :gender ELSE gender END,
    marital_status = CASE WHEN :set_marital_status THEN :marital_status ELSE marital_status END,
    customer_number = CASE WHEN :set_customer_number THEN :customer_number ELSE customer_number END,
    transaction_id = CASE WHEN :set_transaction_id THEN :transaction_id ELSE transaction_id END,
    transaction_date = CASE WHEN :set_transaction_date THEN :transaction_date ELSE transaction_date END,
    complaint_history = CASE WHEN :set_complaint_history THEN :complaint_history ELSE complaint_history END
WHERE id IN :ids
