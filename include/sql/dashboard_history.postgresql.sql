-- Retention view chart: one client's respondents in the warehouse today, counted by the
-- Europe/Amsterdam day they were loaded and the day they were anonymised (NULL: not yet).
SELECT CAST(timezone('Europe/Amsterdam', loaded_at) AS date) AS loaded_on, anonymised_on, count(*) AS respondents
FROM respondents
WHERE client_id = :client_id
GROUP BY 1, 2
