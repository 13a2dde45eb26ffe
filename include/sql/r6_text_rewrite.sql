-- R6/R7 erasure: one open text with the erased person's identifiers replaced.
UPDATE {table}
SET {column} = :text
WHERE {key} = :row_key
