-- R11 proof of R2/R9: per column of {table} the data map treats at term, the rows of the
-- client's assignments whose term ended on or before the as-of day that still hold what the
-- treatment does not allow. {counts} is generated from the data map (one SUM per column,
-- conditions in r11_violates_*.sql); one pass over the rows past term, counts only.
SELECT count(*) AS past_term_rows,
       {counts}
FROM {table}
WHERE client_id = :client_id
  AND assignment_id IN (SELECT assignment_id
                        FROM assignments
                        WHERE client_id = :client_id
                          AND term_ends_on <= :as_of)
