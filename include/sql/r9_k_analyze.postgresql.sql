-- R9: fresh planner statistics before the k-anonymity statements: tonight's anonymisation
-- changed many rows, and with stale ones PostgreSQL may plan the class subqueries as a
-- nested loop (quadratic). ANALYZE reads a sample, not the table.
ANALYZE respondents
