-- Ingest (PostgreSQL): the people of one file the warehouse holds already, by key, with their stored id.
CREATE TEMP TABLE ingest_known (
    assignment_id text NOT NULL,
    respondent_ref text NOT NULL,
    respondent_id bigint NOT NULL
) ON COMMIT DROP
