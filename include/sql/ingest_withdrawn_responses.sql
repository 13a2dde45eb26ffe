-- Ingest: a corrected re-delivery says the person did not respond after all: their answer goes.
DELETE FROM responses
WHERE respondent_id IN (
    SELECT r.id
    FROM ingest_staging s
    JOIN respondents r
      ON r.client_id = :client_id AND r.assignment_id = s.assignment_id AND r.respondent_ref = s.respondent_ref
    WHERE s.responded_at IS NULL
)
