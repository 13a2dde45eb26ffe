-- Ingest (PostgreSQL): staged people the warehouse holds already take their stored id back and are
-- marked known; everyone else keeps the id drawn from the respondents sequence when it was staged.
UPDATE pg_temp.ingest_staging s
SET respondent_id = k.respondent_id, known = true
FROM pg_temp.ingest_known k
WHERE k.assignment_id = s.assignment_id AND k.respondent_ref = s.respondent_ref
