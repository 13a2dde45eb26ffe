-- R6: clients known to the warehouse and their countries (phone numbers are read per country).
SELECT client_id, country
FROM clients
ORDER BY client_id
