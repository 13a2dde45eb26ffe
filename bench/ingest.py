"""Responses ingest against the physical limit on PostgreSQL (issue 2 bench).

In one run, on a fresh database: (a) `COPY` of a responses CSV into a bare table of TEXT
columns, the limit, and (b) the full ingest of the same file (include.ingest.responses.ingest_file:
reading, normalising, Great Expectations validation, staging, upsert), back to back so load
from other work on the machine hits both. Goal: the ingest takes at most 3x the COPY, with
peak memory under 2 GB (ru_maxrss of this process, from resource.getrusage; the CSV is made
in a child process so its generation does not count).

The CSV (BENCH_ROWS rows, default 1,000,000) is invented with include.sample_data.fake_respondents
(Faker nl_NL, unique respondent_ref) and cached under var/bench/. The database is created on
BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end.
Each run delivers the file for a new client (every record a new person, as in a first delivery);
run 1 is the ingest as a task runs it, Great Expectations imported inside; later runs find it imported.
Prints times, ratios and where the ingest spends its time; asserts nothing. The machine is shared:
repeat when the numbers look noisy.
    BENCH_ROWS=100000 python bench/ingest.py [--repeat N] [--profile]    (BENCH_CHUNK: records per chunk)
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import cProfile
import csv
import datetime as dt
import functools
import io
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if "KCM_HOME" not in os.environ:  # the bench's own landing and quarantine, removed when it ends
    os.environ["KCM_HOME"] = tempfile.mkdtemp(prefix="kcm-bench-ingest-")
    atexit.register(shutil.rmtree, os.environ["KCM_HOME"], ignore_errors=True)

from include import sample_data, settings, sync  # noqa: E402
from include import warehouse as wh  # noqa: E402
from include.config import ClientConfig  # noqa: E402
from include.ingest import responses, validation  # noqa: E402

SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
CHUNK = int(os.environ.get("BENCH_CHUNK", responses.CHUNK_RECORDS))
CACHE = ROOT / "var" / "bench"
GOAL_RATIO = 3.0
GOAL_PEAK_BYTES = 2 * 1024**3
AS_OF = dt.date(2026, 6, 1)
ASSIGNMENTS = ("kto_2026_q1", "kto_2026_q2", "nps_service_2026", "klachten_2026")
GENERATE_BATCH = 20_000


def client(attempt: int) -> ClientConfig:
    """A new client each attempt: every record is a new person, as in a first delivery, and the same
    file is not a re-delivery of the previous attempt's."""
    return ClientConfig.model_validate(
        {"client_id": f"bench_{attempt}", "name": "Bench B.V.", "country": "NL", "retention_months": 6,
         "assignments": [{"id": a, "title": f"Onderzoek {a}", "completed_on": None} for a in ASSIGNMENTS]}
    )  # fmt: skip


# --- the delivery ---------------------------------------------------------------------------


def _batch_csv(batch: int, count: int) -> str:
    """`count` records of one batch as CSV text (no header); refs continue across batches, so they stay unique."""
    rows = sample_data.fake_respondents(
        count, assignment_ids=ASSIGNMENTS, seed=batch, as_of=AS_OF, ref_start=1 + batch * GENERATE_BATCH
    )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=sample_data.RESPONSE_COLUMNS, quoting=csv.QUOTE_MINIMAL)
    writer.writerows(rows)
    return buffer.getvalue()


def _generate(rows: int, path: Path) -> None:
    """Write the delivery with every core (Faker makes ~10,000 people a second per core)."""
    batches = range(0, -(-rows // GENERATE_BATCH))
    counts = [min(GENERATE_BATCH, rows - batch * GENERATE_BATCH) for batch in batches]
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle, ProcessPoolExecutor(os.cpu_count()) as pool:
        csv.writer(handle).writerow(sample_data.RESPONSE_COLUMNS)
        for text in pool.map(_batch_csv, batches, counts):
            handle.write(text)
    partial.rename(path)


def delivery(rows: int) -> Path:
    """The cached delivery of `rows` records; made in a child process so its memory is not ours."""
    path = CACHE / f"responses_{rows}.csv"
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        print(f"generating {rows:,} records into {path.relative_to(ROOT)} (once; cached) ...", flush=True)
        subprocess.run([sys.executable, __file__, "--generate", str(rows), str(path)], check=True)
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return path


# --- the database ---------------------------------------------------------------------------


@contextmanager
def database():
    name = f"kcm_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(SERVER.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(SERVER).set(drivername="postgresql+psycopg2", database=name)
    eng = sa.create_engine(url, pool_size=2, max_overflow=2, hide_parameters=True)
    try:
        wh.migrate(eng)
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bare_copy(eng: sa.engine.Engine, path: Path, attempt: int) -> float:
    """(a) The limit: COPY of the file into a table of TEXT columns without keys or indexes."""
    table = f"bare_responses_{attempt}"
    columns = ", ".join(f"{name} text" for name in sample_data.RESPONSE_COLUMNS)
    with eng.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {table} ({columns})"))
    started = time.perf_counter()
    with eng.begin() as conn, path.open("r", encoding="utf-8", newline="") as handle:
        with conn.connection.dbapi_connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)", handle, size=1 << 20)
    seconds = time.perf_counter() - started
    with eng.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {table}"))
    return seconds


# --- where the ingest spends its time --------------------------------------------------------

# (label, owner, attribute): steps of the ingest, timed by wrapping them; a step an implementation
# no longer has is left out of the breakdown. The ingest's own thread runs these in turn:
STEPS = (
    ("scan (sha256, UTF-8 check)", responses, "_scan"),
    ("Great Expectations set-up", validation.ResponsesSuite, "__init__"),
    ("read CSV (Arrow), build frames", responses, "_arrow_chunk"),
    ("build frames (csv module)", responses, "_frame"),
    ("normalise e-mail/phone/postcode", responses, "_normalise"),
    ("R7 suppression check", responses.suppression, "suppressed"),
    ("Great Expectations", validation.ResponsesSuite, "validate"),
    ("parse dates, order checks", validation, "check_parsed"),
    ("staged records", responses, "_staged"),
    ("hand a chunk to the database", responses._Staging, "add"),
    ("last upsert, waiting for the database", responses._Staging, "upsert"),
)
# ... while these run beside it, in threads:
BESIDE = (
    ("read keys ahead (Arrow, during GX set-up)", responses, "_keys_ahead"),
    ("COPY into staging (database)", responses._Staging, "_copy"),
)


class Breakdown:
    """Wall time per ingest step, summed over calls."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.statements: dict[str, float] = {}
        self._originals: list[tuple[object, str, object]] = []

    def __enter__(self) -> Breakdown:
        for label, owner, attribute in STEPS + BESIDE:
            original = owner.__dict__.get(attribute) if isinstance(owner, type) else getattr(owner, attribute, None)
            if original is None:
                continue
            self._originals.append((owner, attribute, original))
            setattr(owner, attribute, self._timed(label, original))
        return self

    def __exit__(self, *exc) -> None:
        for owner, attribute, original in reversed(self._originals):
            setattr(owner, attribute, original)

    def _timed(self, label: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        return timed


class StatementClock:
    """Database time per SQL file of include/sql (statements run through SQLAlchemy; COPY runs beside it)."""

    def __init__(self, eng: sa.engine.Engine) -> None:
        folder = ROOT / "include" / "sql"
        self.names = {path.read_text(encoding="utf-8").strip(): path.name for path in folder.glob("*.sql")}
        self.seconds: dict[str, float] = defaultdict(float)
        self.eng = eng

    def __enter__(self) -> StatementClock:
        sa.event.listen(self.eng, "before_cursor_execute", self._before)
        sa.event.listen(self.eng, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.eng, "before_cursor_execute", self._before)
        sa.event.remove(self.eng, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        text = getattr(context.compiled.statement, "text", "") if context.compiled else ""
        name = self.names.get(text.strip(), "other")
        self.seconds[name] += time.perf_counter() - conn.info.pop("bench_started")


def ingest(
    eng: sa.engine.Engine, cfg: ClientConfig, path: Path, attempt: int, *, profile: bool = False
) -> tuple[float, dict, Breakdown]:
    """(b) The full ingest of the same file, from landing to committed rows."""
    sync.apply_config(eng, cfg)
    landing = settings.landing_dir(cfg.client_id)
    landing.mkdir(parents=True, exist_ok=True)
    source = landing / "responses_bench.csv"
    os.link(path, source)  # ingest_file removes the landing name after the commit; the cached file stays
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE respondents, responses"))
    profiler = cProfile.Profile() if profile else contextlib.nullcontext()
    with Breakdown() as breakdown, StatementClock(eng) as clock:
        started = time.perf_counter()
        with profiler:
            outcome = responses.ingest_file(
                eng, cfg, source.name, run_id=f"bench_{attempt}", as_of=AS_OF, chunk_records=CHUNK
            )
        seconds = time.perf_counter() - started
    breakdown.statements = dict(clock.seconds)
    if profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return seconds, outcome, breakdown


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def report(attempt: int, copy_seconds: float, seconds: float, outcome: dict, breakdown: Breakdown) -> None:
    print(f"\nrun {attempt}: (a) COPY into a bare table: {copy_seconds:6.2f} s")
    print(f"       (b) full ingest:            {seconds:6.2f} s  ({ROWS / seconds:,.0f} records/s)")
    print(f"       ratio ingest / COPY: {seconds / copy_seconds:.2f}x  (goal <= {GOAL_RATIO:.0f}x)")
    print(f"       outcome: {outcome['status']}, {outcome['rows_loaded']:,} loaded, "
          f"{outcome['rows_quarantined']:,} quarantined {outcome['reasons'] or ''}")  # fmt: skip
    print("       where the ingest's own thread spends its time:")
    accounted = 0.0
    for label, _owner, _attribute in STEPS:
        if label in breakdown.seconds:
            step = breakdown.seconds[label]
            accounted += step
            print(f"         {label:<42} {step:6.2f} s  {step / copy_seconds:5.2f}x COPY")
    rest = seconds - accounted
    print(f"         {'reading chunks, keys, bookkeeping':<42} {rest:6.2f} s  {rest / copy_seconds:5.2f}x COPY")
    print("       beside it (threads; the database statements run on the worker thread as chunks come):")
    for label, _owner, _attribute in BESIDE:
        if label in breakdown.seconds:
            step = breakdown.seconds[label]
            print(f"         {label:<42} {step:6.2f} s  {step / copy_seconds:5.2f}x COPY")
    statements = breakdown.statements
    for name, spent in sorted(statements.items(), key=lambda item: -item[1]):
        if spent >= 0.1:
            print(f"         {name.removesuffix('.sql'):<42} {spent:6.2f} s  {spent / copy_seconds:5.2f}x COPY")
    inserts = sum(statements.get(f"ingest_new_{table}.postgresql.sql", 0.0) for table in ("respondents", "responses"))
    database = inserts + breakdown.seconds.get("COPY into staging (database)", 0.0)
    print(f"       floor: the INSERTs into the indexed respondents and responses tables alone take {inserts:.2f} s "
          f"= {inserts / copy_seconds:.2f}x COPY; with the COPY into staging {database:.2f} s "
          f"= {database / copy_seconds:.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="COPY + ingest pairs to run (the best pair counts)")
    parser.add_argument("--profile", action="store_true", help="cProfile the ingest; top functions printed")
    parser.add_argument("--generate", nargs=2, metavar=("ROWS", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        _generate(int(args.generate[0]), Path(args.generate[1]))
        return
    path = delivery(ROWS)
    print(f"delivery: {ROWS:,} records, {path.stat().st_size / 1e6:.0f} MB ({path.relative_to(ROOT)}), "
          f"chunks of {CHUNK:,}")  # fmt: skip
    runs = []
    with database() as eng:
        before = peak_bytes()
        for attempt in range(1, args.repeat + 1):
            copy_seconds = bare_copy(eng, path, attempt)
            seconds, outcome, breakdown = ingest(eng, client(attempt), path, attempt, profile=args.profile)
            report(attempt, copy_seconds, seconds, outcome, breakdown)
            runs.append((seconds / copy_seconds, copy_seconds, seconds))
    peak = peak_bytes()
    first = runs[0][0]
    print(f"\nratio as a task runs it (run 1: a fresh process, Great Expectations imported inside): {first:.2f}x, "
          f"{'meets' if first <= GOAL_RATIO else 'misses'} the {GOAL_RATIO:.0f}x goal")  # fmt: skip
    if len(runs) > 1:
        ratio, copy_seconds, seconds = min(runs)
        print(f"best run: COPY {copy_seconds:.2f} s, ingest {seconds:.2f} s: ratio {ratio:.2f}x")
    print(f"peak memory (ru_maxrss of this process): {peak / 1024**3:.2f} GB "
          f"({before / 1024**3:.2f} GB before the first ingest; goal < {GOAL_PEAK_BYTES / 1024**3:.0f} GB: "
          f"{'met' if peak < GOAL_PEAK_BYTES else 'missed'})")  # fmt: skip


if __name__ == "__main__":
    main()
