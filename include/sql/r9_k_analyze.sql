-- R9: SQLite evaluates IN (subquery) once into a temporary index: no statistics needed.
SELECT 1
