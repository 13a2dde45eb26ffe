-- R9: the open answers ({text_column}) of one batch of an assignment's respondents, with
-- the person's own identifiers ({known_columns}, from the data map) so the scrubber removes
-- them even where no pattern would find them.
SELECT s.respondent_id, s.{text_column} AS text, {known_columns}
FROM responses s
JOIN respondents r ON r.id = s.respondent_id
WHERE r.client_id = :client_id
  AND r.assignment_id = :assignment_id
  AND r.anonymised_on IS NULL
  AND r.id BETWEEN :first_id AND :last_id
  AND s.{text_column} IS NOT NULL
  AND s.{text_column} <> ''
ORDER BY s.respondent_id
