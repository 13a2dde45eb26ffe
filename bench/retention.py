"""Nightly retention against the physical limit on PostgreSQL (issue 3 bench).

1. Anonymising N due respondents (default 1,000,000) with include.retention against a bare
   UPDATE setting the same columns on a copy of the same tables (same indexes), in one run.
   Goal: at most 2x. The population is an `open_text: drop` client, so no per-row Python runs
   here; text scrubbing is measured on its own (texts per second) and extrapolated.
2. A night with nothing due over M stored respondents (default 5,000,000): database time of the
   whole night, summed over every statement. Goal: under 1 s.

Uses a database it creates and drops on BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres). Prints times and ratios; asserts nothing.
    python bench/retention.py [--due N] [--stored M] [--skip-scrub]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("KCM_HOME", tempfile.mkdtemp(prefix="kcm-bench-retention-"))

from include import data_map, retention, sync  # noqa: E402
from include import warehouse as wh  # noqa: E402
from include.config import ClientConfig  # noqa: E402

SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
GOAL_RATIO = 2.0
GOAL_IDLE_SECONDS = 1.0
TERM_NIGHT = dt.date(2027, 2, 28)
IDLE_NIGHT = dt.date(2027, 3, 15)

# People as a delivery brings them: names, contact, address, birth dates 18-86 years old, three
# genders (one rare), postcodes over all 90 Dutch areas, 70% answered, 10% of answers with text.
POPULATION = """
INSERT INTO respondents (client_id, assignment_id, respondent_ref, invited_at, invited_on, responded_at,
    first_name, last_name, email, phone, street, house_number, postcode, city, birth_date, gender,
    marital_status, customer_number, transaction_id, transaction_date, complaint_history, loaded_at)
SELECT :client_id, :assignment_id, 'R' || lpad(g::text, 9, '0'), t.invited, :invited_on,
       CASE WHEN g % 10 < 7 THEN t.invited + interval '1 day' END,
       (ARRAY['Jan', 'Anna', 'Mohamed', 'Sanne', 'Daan', 'Fatima', 'Emma', 'Piet'])[1 + g % 8],
       (ARRAY['de Vries', 'Jansen', 'Bakker', 'Visser', 'Smit', 'Yilmaz', 'de Boer', 'Mulder'])[1 + (g / 8) % 8],
       'persoon' || g || '@example.nl', '06-' || lpad((g % 100000000)::text, 8, '0'),
       'Dorpsstraat', (1 + g % 200)::text, (1000 + (g::bigint * 7) % 9000)::text || ' AB', 'Utrecht',
       date '1940-06-01' + CAST((g::bigint * 7919) % 25000 AS integer),
       CASE WHEN g % 31 = 0 THEN 'anders' WHEN g % 2 = 0 THEN 'vrouw' ELSE 'man' END,
       'gehuwd', 'K' || lpad(g::text, 9, '0'), 'TX-' || md5(g::text), date '2026-11-01' + g % 60,
       CASE WHEN g % 5 = 0 THEN '1 klacht(en) sinds 2025: factuur' END, now()
FROM generate_series(:first, :last) AS g,
     LATERAL (SELECT CAST(:invited_on AS date) + time '10:00' + (g % 600) * interval '1 minute' AS invited) AS t
"""
ANSWERS = """
INSERT INTO responses (respondent_id, client_id, assignment_id, nps, csat, answer_text, ip_address, user_agent)
SELECT id, client_id, assignment_id, id % 11, 1 + id % 5,
       CASE WHEN id % 10 = 0 THEN 'De medewerker was vriendelijk, maar de wachttijd was lang.' END,
       '192.0.2.' || (id % 250), 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0'
FROM respondents
WHERE client_id = :client_id AND assignment_id = :assignment_id AND responded_at IS NOT NULL
"""


def client(assignments: list[dict], *, open_text: str = "drop") -> ClientConfig:
    return ClientConfig.model_validate(
        {"client_id": "bench", "name": "Bench B.V.", "country": "NL", "retention_months": 1,
         "open_text": open_text, "assignments": assignments}
    )  # fmt: skip


@contextmanager
def database():
    name = f"kcm_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(SERVER.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(SERVER).set(drivername="postgresql+psycopg2", database=name)
    eng = sa.create_engine(url, pool_size=2, max_overflow=2)
    try:
        wh.migrate(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class DatabaseClock:
    """Sums the time the database spends on every statement of an engine."""

    def __init__(self, eng: sa.engine.Engine) -> None:
        self.seconds = 0.0
        self.statements = 0
        self.by_statement: Counter = Counter()
        self._key = f"bench_started_{id(self)}"
        sa.event.listen(eng, "before_cursor_execute", self._before)
        sa.event.listen(eng, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info[self._key] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        seconds = time.perf_counter() - conn.info.pop(self._key)
        self.seconds += seconds
        self.statements += 1
        self.by_statement[" ".join(statement.split())[:60]] += seconds

    def reset(self) -> None:
        self.seconds, self.statements = 0.0, 0
        self.by_statement.clear()

    def slowest(self, n: int = 3) -> str:
        return "\n".join(f"      {s:7.3f} s  {text}" for text, s in self.by_statement.most_common(n))


def populate(eng, assignment_id: str, count: int, invited_on: dt.date, first: int = 1, chunk: int = 500_000) -> None:
    for start in range(first, first + count, chunk):
        with eng.begin() as conn:
            conn.execute(sa.text(POPULATION), {"client_id": "bench", "assignment_id": assignment_id,
                                               "invited_on": invited_on, "first": start,
                                               "last": min(first + count - 1, start + chunk - 1)})  # fmt: skip
    with eng.begin() as conn:
        conn.execute(sa.text(ANSWERS), {"client_id": "bench", "assignment_id": assignment_id})


def vacuum_analyze(eng, *tables: str) -> None:
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"VACUUM ANALYZE {', '.join(tables)}"))


def checkpoint(eng) -> None:
    """Start each timed part from a clean checkpoint, so neither pays for the other's dirty pages."""
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("CHECKPOINT"))


# What a bare UPDATE writes per treatment: values of the same width, with no computation.
BARE_VALUES = {"remove": "NULL", "day": "{column}", "month": "{column}", "scrub_text": "NULL", "age_band": "NULL",
               "region": "NULL"}  # fmt: skip
BARE_DERIVED = {"age_band": "'45-54'", "region": "'NL-35'"}


def bare_set_list(table: str) -> str:
    """The same columns the anonymisation sets (from the statement the data map generates), set plainly."""
    treatments = retention._treatments(table, "postgresql", "drop")
    columns = re.findall(r"^\s*([a-z_]+) = ", treatments, flags=re.MULTILINE)
    treatment_of = {c.column: c.treatment for c in data_map.load().table(table)}
    # A source column (birth_date, postcode) is emptied; its derived column (age_band, region) gets a band.
    values = [BARE_DERIVED[c] if treatment_of[c] == "keep" else BARE_VALUES[treatment_of[c]].format(column=c)
              for c in columns]  # fmt: skip
    return ", ".join(f"{c} = {v}" for c, v in zip(columns, values, strict=True))


def bench_anonymise(eng, due: int) -> dict:
    print(f"\n1. Anonymising {due:,} due respondents (open_text: drop) against a bare UPDATE")
    cfg = client([{"id": "a1", "title": "Due", "completed_on": "2027-01-31"}])
    sync.apply_config(eng, cfg)
    started = time.perf_counter()
    populate(eng, "a1", due, dt.date(2027, 1, 10))
    with eng.begin() as conn:
        for table in ("respondents", "responses"):
            conn.execute(sa.text(f"CREATE TABLE {table}_copy (LIKE {table} INCLUDING ALL)"))
            conn.execute(sa.text(f"INSERT INTO {table}_copy SELECT * FROM {table}"))
    vacuum_analyze(eng, "respondents", "responses", "respondents_copy", "responses_copy")
    answered = _scalar(eng, "SELECT count(*) FROM responses")
    print(
        f"   population: {due:,} respondents, {answered:,} answers, copies made ({time.perf_counter() - started:.0f} s)"
    )

    sets = {table: bare_set_list(table) for table in ("respondents", "responses")}
    sets["respondents"] += ", anonymised_on = CAST(:as_of AS date)"
    bare = {}
    for table in ("respondents", "responses"):
        where = "WHERE client_id = 'bench' AND assignment_id = 'a1'"
        checkpoint(eng)
        with eng.begin() as conn:
            started = time.perf_counter()
            conn.execute(sa.text(f"UPDATE {table}_copy SET {sets[table]} {where}"), {"as_of": TERM_NIGHT})
            bare[table] = time.perf_counter() - started
        print(f"   bare UPDATE of {table}_copy ({sets[table].count(' = ')} columns): {bare[table]:.2f} s")

    checkpoint(eng)
    clock = DatabaseClock(eng)
    started = time.perf_counter()
    done = retention.anonymise_due(eng, cfg, as_of=TERM_NIGHT, run_id="bench")
    anonymise = time.perf_counter() - started
    print(f"   retention.anonymise_due: {anonymise:.2f} s ({clock.seconds:.2f} s in the database, "
          f"{clock.statements} statements) for {done['respondents']:,} respondents, {done['responses']:,} answers")  # fmt: skip
    clock.reset()
    started = time.perf_counter()
    k = retention.enforce_k_anonymity(eng, cfg, as_of=TERM_NIGHT, run_id="bench")
    k_seconds = time.perf_counter() - started
    print(f"   retention.enforce_k_anonymity: {k_seconds:.2f} s ({k['generalised']:,} generalisation moves, "
          f"{k['suppressed']:,} suppressed)")  # fmt: skip
    started = time.perf_counter()
    retention.vacuum_touched(eng, "bench", as_of=TERM_NIGHT, run_id="bench")
    vacuum = time.perf_counter() - started
    print(f"   retention.vacuum_touched (R10, VACUUM ANALYZE): {vacuum:.2f} s")
    ratio_one = anonymise / bare["respondents"]
    ratio_both = anonymise / (bare["respondents"] + bare["responses"])
    print(f"   ratio anonymise / bare UPDATE of respondents:            {ratio_one:.2f}x")
    print(f"   ratio anonymise / bare UPDATEs of respondents+responses: {ratio_both:.2f}x  (goal <= {GOAL_RATIO:.0f}x)")
    print(f"   ratio anonymise + k-anonymity / bare UPDATEs of both:    "
          f"{(anonymise + k_seconds) / (bare['respondents'] + bare['responses']):.2f}x")  # fmt: skip
    with eng.begin() as conn:
        conn.execute(sa.text("DROP TABLE respondents_copy, responses_copy"))
    return {"ratio": ratio_both, "seconds": anonymise}


def bench_idle_night(eng, stored: int, already: int) -> dict:
    more = max(0, stored - already)
    print(f"\n2. A night with nothing due over {stored:,} stored respondents")
    started = time.perf_counter()
    assignments = [
        {"id": "a1", "title": "Due", "completed_on": "2027-01-31"},
        {"id": "a2", "title": "Running", "completed_on": None},
        {"id": "a3", "title": "Running too", "completed_on": None},
    ]
    cfg = client(assignments)
    sync.apply_config(eng, cfg)
    # People of running assignments invited in the last six weeks: whether they answered or not, nothing is due.
    populate(eng, "a2", more * 3 // 4, dt.date(2027, 2, 1), first=10_000_001)
    populate(eng, "a3", more - more * 3 // 4, dt.date(2027, 3, 1), first=20_000_001)
    retention.enforce_k_anonymity(eng, cfg, as_of=IDLE_NIGHT - dt.timedelta(days=1), run_id="bench")
    vacuum_analyze(eng, "respondents", "responses", "recordings", "quarantine_records", "audit_events")
    total = _scalar(eng, "SELECT count(*) FROM respondents")
    print(f"   population: {total:,} respondents ({time.perf_counter() - started:.0f} s)")

    clock = DatabaseClock(eng)
    started = time.perf_counter()
    summary = retention.run_night(eng, cfg, IDLE_NIGHT, run_id="bench_idle")
    wall = time.perf_counter() - started
    night_db, night_statements, slowest = clock.seconds, clock.statements, clock.slowest()
    clock.reset()
    started = time.perf_counter()
    chain = retention.verify_audit(eng)
    verify = time.perf_counter() - started
    assert summary["events"] == 0, summary
    print(f"   whole night (sync, R4, R3, R2, R9, R10 purge, vacuum check): {night_db:.3f} s database time "
          f"({night_statements} statements), {wall:.3f} s wall   (goal < {GOAL_IDLE_SECONDS:.0f} s)")  # fmt: skip
    print(f"   slowest statements:\n{slowest}")
    print(f"   verify_audit over {chain['events']} events: {verify:.3f} s (grows with the trail, not the people)")
    return {"database_seconds": night_db}


def bench_scrub(samples: int = 1000) -> dict:
    print(f"\n3. Open-text scrubbing, per-row Python (TextScrubber), {samples:,} Faker answers")
    from include.anonymisers.text import TextScrubber
    from include.sample_data import fake_respondents

    cache = ROOT / "var" / "cache" / "deduce"
    started = time.perf_counter()
    scrubber = TextScrubber(cache_dir=cache if cache.exists() else None)
    build = time.perf_counter() - started
    people = fake_respondents(samples * 2, assignment_ids=["a1"], seed=3, as_of=TERM_NIGHT, response_rate=1.0)
    columns = ("first_name", "last_name", "email", "phone", "street", "house_number", "postcode", "city",
               "customer_number", "transaction_id", "respondent_ref")  # fmt: skip
    items = [(p["answer_text"], [p[c] for c in columns if p[c]]) for p in people if p["answer_text"]][:samples]
    started = time.perf_counter()
    scrubber.scrub_many(items)
    seconds = time.perf_counter() - started
    rate = len(items) / seconds
    print(f"   build: {build:.1f} s once per task; {rate:,.0f} answers/s")
    per_million = 1_000_000 * 0.7 * 0.8 / rate
    print(f"   1,000,000 due respondents of a scrubbing client (70% answered, 80% of answers with text): "
          f"~{per_million / 60:,.0f} min of scrubbing on one core")  # fmt: skip
    return {"rate": rate}


def _scalar(eng, statement: str):
    with eng.connect() as conn:
        return conn.execute(sa.text(statement)).scalar()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=1_000_000)
    parser.add_argument("--stored", type=int, default=5_000_000)
    parser.add_argument("--skip-scrub", action="store_true")
    args = parser.parse_args()
    with database() as eng:
        bench_anonymise(eng, args.due)
        bench_idle_night(eng, args.stored, args.due)
    if not args.skip_scrub:
        bench_scrub()


if __name__ == "__main__":
    main()
