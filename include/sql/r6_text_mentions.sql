-- R6/R7 erasure: other people's open text that may mention the erased person (a cheap prefilter;
-- the exact match runs in Python). {table}, {key} and {column} come from the data map.
SELECT {key} AS row_key, {column} AS text
FROM {table}
WHERE client_id = :client_id
  AND LOWER({column}) LIKE :pattern
