-- R2/R9: anonymise one batch of an assignment's respondents at term.
-- {treatments} is generated from the data map (include/data_map.yaml): one assignment
-- per column whose treatment is not `keep`, using the expressions in r9_treat_*.sql.
-- Every expression reads the row as it was before this statement.
UPDATE respondents
SET {treatments},
    anonymised_on = :as_of
WHERE client_id = :client_id
  AND assignment_id = :assignment_id
  AND anonymised_on IS NULL
  AND id BETWEEN :first_id AND :last_id
