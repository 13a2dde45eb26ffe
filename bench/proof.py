"""R11 proof cost on PostgreSQL (issue 4 bench): 5,000,000 stored respondents, nothing due; goal under 10 s of database time.

Creates its own database on BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
fills it with INSERT ... SELECT FROM generate_series, and runs the whole proof of the largest client
(include.proof.prove: every SQL check, the file stores, the audit chain, the GX checkpoint and the
evidence). Database time is the time spent inside the driver's execute and fetch calls.

Population (BENCH_RESPONDENTS, default 5,000,000): the proven client holds 90 %:
  40 % in ten assignments anonymised at an earlier term (scrubbed answers, k-anonymous),
  40 % in ten running assignments and 10 % in five completed ones still within their term
  (personal data, non-respondents invited less than two months ago); another client holds 10 %.
Plus BENCH_RECORDINGS (default 50,000) recordings with files and BENCH_AUDIT_EVENTS (default
20,000) audit events. Nothing is due on the as-of day: a correct proof finds nothing.

Prints the seconds per group of checks, the slowest statements, and the ratio of database time
to the 10 s goal. Keep the database with BENCH_KEEP=1 (it is dropped otherwise); prove again on a
kept one with BENCH_DATABASE=<name> (no population; KCM_HOME files are recreated for it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 10.0
SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RESPONDENTS = int(os.environ.get("BENCH_RESPONDENTS", "5000000"))
RECORDINGS = int(os.environ.get("BENCH_RECORDINGS", "50000"))
AUDIT_EVENTS = int(os.environ.get("BENCH_AUDIT_EVENTS", "20000"))
AS_OF = dt.date(2027, 3, 1)
CLIENT = "bench_groot"
OTHER = "bench_ander"

ANONYMISED = [f"anon_{i:02d}" for i in range(10)]
RUNNING = [f"lopend_{i:02d}" for i in range(10)]
WITHIN_TERM = [f"binnen_{i:02d}" for i in range(5)]

# Anonymised rows: as include.retention leaves them (R2/R9): identifiers NULL, moments at midnight UTC,
# generalised quasi-identifiers, answers scrubbed. {count} rows over the ten anonymised assignments.
ANONYMISED_ROWS = """
INSERT INTO respondents (client_id, assignment_id, respondent_ref, invited_at, invited_on, responded_at,
                         gender, age_band, region, transaction_date, delivery_id, loaded_at, anonymised_on)
SELECT :client, 'anon_' || lpad((g % 10)::text, 2, '0'), NULL,
       (date '2024-11-01' + (g % 28))::timestamp AT TIME ZONE 'UTC', date '2024-11-01' + (g % 28),
       (date '2024-11-03' + (g % 28))::timestamp AT TIME ZONE 'UTC',
       (ARRAY['man', 'vrouw'])[1 + g % 2],
       (ARRAY['18-24', '25-34', '35-44', '45-54', '55-64', '65-74', '75+', '<18'])[1 + (g / 7) % 8],
       'NL-' || (10 + (g / 3) % 90)::text,
       date '2024-10-01', 1, timestamptz '2024-11-05 00:00+00', date '2025-05-01'
FROM generate_series(1, :count) AS g
"""
# Rows with personal data: running assignments and completed ones within their term.
PERSONAL_ROWS = """
INSERT INTO respondents (client_id, assignment_id, respondent_ref, invited_at, invited_on, responded_at,
                         first_name, last_name, email, phone, street, house_number, postcode, city,
                         birth_date, gender, marital_status, customer_number, transaction_id, transaction_date,
                         complaint_history, delivery_id, loaded_at)
SELECT :client, :prefix || lpad((g % :assignments)::text, 2, '0'), 'K' || :offset + g,
       timestamptz '2027-02-01 09:00+01' + (g % 25) * interval '1 day' + (g % 3600) * interval '1 second',
       date '2027-02-01' + (g % 25),
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE timestamptz '2027-02-03 14:00+01' + (g % 25) * interval '1 day' END,
       'Voornaam' || g, 'Achternaam' || g, 'persoon' || (:offset + g) || '@example.nl',
       '+316' || lpad((g % 100000000)::text, 8, '0'), 'Straatweg', (1 + g % 200)::text,
       (1000 + g % 8999)::text || ' AB', 'Utrecht', date '1950-01-01' + (g % 20000),
       (ARRAY['man', 'vrouw'])[1 + g % 2], 'gehuwd', 'CN' || g, 'TX' || g, date '2027-01-15',
       NULL, 2, timestamptz '2027-02-26 06:00+01'
FROM generate_series(1, :count) AS g
"""
RESPONSES = """
INSERT INTO responses (respondent_id, client_id, assignment_id, nps, csat, answer_text, ip_address, user_agent)
SELECT id, client_id, assignment_id, id % 11, 1 + id % 5,
       CASE WHEN anonymised_on IS NOT NULL
            THEN '<NAAM> hielp mij na ' || (id % 60) || ' minuten, ik geef een ' || (id % 10) || '.'
            ELSE 'Ik ben ' || first_name || ', bel me op ' || phone || ' of mail ' || email END,
       CASE WHEN anonymised_on IS NULL THEN '10.0.' || (id % 250) || '.' || (id % 250) END,
       CASE WHEN anonymised_on IS NULL THEN 'Mozilla/5.0 (X11; Linux x86_64)' END
FROM respondents
WHERE responded_at IS NOT NULL
"""
RECORDING_ROWS = """
INSERT INTO recordings (client_id, assignment_id, respondent_id, file_name, stored_path, sha256, recorded_at,
                        duration_seconds, sample_rate, channels, sample_width, size_bytes, delivery_id, state)
SELECT client_id, assignment_id, id, 'gesprek_' || id || '.wav',
       client_id || '/' || assignment_id || '/' || encode(sha256(id::text::bytea), 'hex') || '.wav',
       encode(sha256(id::text::bytea), 'hex'), invited_at, 60.0, 8000, 1, 2, 4, 3, 'stored'
FROM respondents
WHERE client_id = :client AND anonymised_on IS NULL AND responded_at IS NOT NULL
ORDER BY id
LIMIT :count
"""


def admin(statement: str) -> None:
    eng = sa.create_engine(SERVER.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(sa.text(statement))
    eng.dispose()


def clients():
    from include.config import ClientConfig

    def assignment(assignment_id: str, completed_on: str | None) -> dict:
        return {"id": assignment_id, "title": f"Onderzoek {assignment_id}", "completed_on": completed_on}

    big = ClientConfig(
        client_id=CLIENT, name="Bench Groot B.V.", country="NL", retention_months=6,
        assignments=[assignment(a, "2024-11-01") for a in ANONYMISED]
        + [assignment(a, None) for a in RUNNING]
        + [assignment(a, "2027-02-20") for a in WITHIN_TERM],
    )  # fmt: skip
    other = ClientConfig(client_id=OTHER, name="Bench Ander B.V.", country="NL", retention_months=3,
                         assignments=[assignment(a, None) for a in RUNNING])  # fmt: skip
    return big, other


def populate(eng: sa.Engine, big, other) -> None:
    from include import audit, recordings_store, sync

    started = time.perf_counter()
    sync.apply_config(eng, big)
    sync.apply_config(eng, other)
    anonymised, running, within, rest = (int(RESPONDENTS * share) for share in (0.4, 0.4, 0.1, 0.1))
    with eng.begin() as conn:
        conn.execute(
            sa.text("UPDATE assignments SET status = 'anonymised', anonymised_on = term_ends_on "
                    "WHERE client_id = :c AND assignment_id LIKE 'anon_%'"),
            {"c": CLIENT},
        )  # fmt: skip
        conn.execute(sa.text("UPDATE clients SET k_anonymity_verified = 5 WHERE client_id = :c"), {"c": CLIENT})
        conn.execute(sa.text(ANONYMISED_ROWS), {"client": CLIENT, "count": anonymised})
        for client, prefix, assignments, offset, count in (
            (CLIENT, "lopend_", 10, 0, running),
            (CLIENT, "binnen_", 5, running, within),
            (OTHER, "lopend_", 10, 0, rest),
        ):
            conn.execute(sa.text(PERSONAL_ROWS), {"client": client, "prefix": prefix, "assignments": assignments,
                                                  "offset": offset, "count": count})  # fmt: skip
        conn.execute(sa.text(RESPONSES))
        conn.execute(sa.text(RECORDING_ROWS), {"client": CLIENT, "count": RECORDINGS})
        paths = conn.execute(sa.text("SELECT stored_path FROM recordings")).scalars().all()
    print(f"  rows written in {time.perf_counter() - started:.0f} s")
    for stored in paths:
        path = recordings_store.path_of(stored)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
    events = []
    prev = audit.GENESIS
    for seq in range(AUDIT_EVENTS):
        event = {"recorded_at": f"2026-{1 + seq % 12:02d}-01T02:00:00.000000+00:00", "run_id": f"scheduled__{seq}",
                 "client_id": OTHER, "assignment_id": None, "rule": "R2", "action": "respondents_anonymised",
                 "as_of": "2026-01-01", "counts": json.dumps({"rows": {"respondents": seq}})}  # fmt: skip
        digest = audit._digest(prev, event)
        events.append({**event, "prev_hash": prev, "hash": digest})
        prev = digest
    with eng.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO audit_events (recorded_at, run_id, client_id, assignment_id, rule, action, as_of, "
                    "counts, prev_hash, hash) VALUES (:recorded_at, :run_id, :client_id, :assignment_id, :rule, "
                    ":action, :as_of, :counts, :prev_hash, :hash)"),
            events,
        )  # fmt: skip
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"  population ready in {time.perf_counter() - started:.0f} s")


class DatabaseClock:
    """Time inside the driver: execute plus fetching the results, per statement."""

    def __init__(self, eng: sa.Engine) -> None:
        self.by_statement: dict[str, float] = defaultdict(float)
        self._started: dict[int, float] = {}
        sa.event.listen(eng, "before_cursor_execute", self._before)
        sa.event.listen(eng, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, *_):
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn, cursor, statement, *_):
        key = " ".join(statement.split())[:90]
        self.by_statement[key] += time.perf_counter() - self._started.pop(id(cursor))

    @property
    def total(self) -> float:
        return sum(self.by_statement.values())


def main() -> int:
    reuse = os.environ.get("BENCH_DATABASE")
    name = reuse or f"kcm_bench_proof_{os.getpid()}"
    home = Path(tempfile.mkdtemp(prefix="kcm-bench-proof-"))
    url = SERVER.rsplit("/", 1)[0] + f"/{name}"
    os.environ.update({"KCM_HOME": str(home), "AIRFLOW_CONN_KCM_WAREHOUSE": url, "GX_ANALYTICS_ENABLED": "false"})
    from include import proof, recordings_store, warehouse

    if not reuse:
        admin(f'CREATE DATABASE "{name}"')
    try:
        eng = warehouse.engine()
        big, other = clients()
        print(f"R11 proof bench: {RESPONDENTS:,} respondents, {RECORDINGS:,} recordings, "
              f"{AUDIT_EVENTS:,} audit events; database {name}")  # fmt: skip
        if reuse:
            with eng.connect() as conn:
                for stored in conn.execute(sa.text("SELECT stored_path FROM recordings")).scalars():
                    recordings_store.path_of(stored).parent.mkdir(parents=True, exist_ok=True)
                    recordings_store.path_of(stored).write_bytes(b"RIFF")
        else:
            populate(eng, big, other)
        proof.validate(CLIENT, [], "warm-up")  # GX import and context creation: paid once per worker process
        clock = DatabaseClock(eng)
        started = time.perf_counter()
        summary = proof.prove(eng, big, AS_OF, "bench")
        wall = time.perf_counter() - started
        seconds = json.loads(Path(summary["report_json"]).read_text())["seconds"]
        print(f"  proof {'passed' if summary['passed'] else 'FAILED'}: {summary['expectations']} expectations")
        print("  seconds per group of checks (wall, database and Python):")
        for group, value in seconds.items():
            print(f"    {value:6.2f}  {group}")
        print("  slowest statements (database seconds in execute; a streamed result's fetches are not counted):")
        for statement, value in sorted(clock.by_statement.items(), key=lambda kv: -kv[1])[:8]:
            print(f"    {value:6.2f}  {statement}")
        in_database = sum(v for k, v in seconds.items() if k not in ("great_expectations", "recordings_store",
                                                                      "audit_chain"))  # fmt: skip
        print(
            f"database checks {in_database:.2f} s (statement time {clock.total:.2f} s); "
            f"whole proof with file walks, audit chain, GX and evidence {wall:.2f} s"
        )
        print(f"ratio database checks / goal {GOAL_SECONDS:.0f} s = {in_database / GOAL_SECONDS:.2f} "
              f"(whole proof: {wall / GOAL_SECONDS:.2f})")  # fmt: skip
        eng.dispose()
        return 0 if summary["passed"] else 1
    finally:
        warehouse._engine.cache_clear()
        if not os.environ.get("BENCH_KEEP") and not reuse:
            admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
