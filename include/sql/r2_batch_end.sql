-- R2: the id range of the next batch of an assignment's respondents still to anonymise
-- (ix_respondents_anonymise_due holds only rows not yet anonymised).
SELECT min(id) AS first_id, max(id) AS last_id
FROM (SELECT id
      FROM respondents
      WHERE client_id = :client_id
        AND assignment_id = :assignment_id
        AND anonymised_on IS NULL
      ORDER BY id
      LIMIT :batch_size) AS batch
