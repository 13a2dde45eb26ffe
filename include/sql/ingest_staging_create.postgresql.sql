-- Ingest staging: the valid records of one responses file, normalised, before the upsert.
-- Dropped at commit; no index or key, so COPY runs at full speed. Each record draws its person's id
-- from the respondents sequence as it is copied; `known` marks people the warehouse already holds
-- (they take their own id back in ingest_match_respondents), so no later statement joins on the key.
CREATE TEMP TABLE ingest_staging (
    record_number integer NOT NULL,
    assignment_id text NOT NULL,
    respondent_ref text NOT NULL,
    invited_at timestamptz NOT NULL,
    invited_on date NOT NULL,
    responded_at timestamptz,
    first_name text,
    last_name text,
    email text,
    phone text,
    street text,
    house_number text,
    postcode text,
    city text,
    birth_date date,
    gender text,
    marital_status text,
    customer_number text,
    transaction_id text,
    transaction_date date,
    complaint_history text,
    nps smallint,
    csat smallint,
    answer_text text,
    ip_address text,
    user_agent text,
    respondent_id bigint NOT NULL DEFAULT nextval('respondents_id_seq'),
    known boolean NOT NULL DEFAULT false
) ON COMMIT DROP
