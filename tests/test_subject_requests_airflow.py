"""R6/R10: a request's identifiers do not outlive it in Airflow's own metadata.

Airflow keeps every run's conf (`dag_run.conf`) and the trigger in its audit log
(`log`); scripts/purge_airflow_metadata.py removes finished request runs after their
term. These tests run a request through Airflow's runner on the session's metadata
DB, then look for the person's identifiers where an auditor would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_subject_requests import DAG_ID, RUN_DAY, SECRET, _conf, _succeeded, build_world

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def suppression_secret(monkeypatch):
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", SECRET)


def purge(*args: str) -> subprocess.CompletedProcess:
    """The purge as the scheduler host runs it: its own process, next to the running Airflow."""
    command = [sys.executable, "-m", "scripts.purge_airflow_metadata", *args]
    return subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), cwd=ROOT, timeout=120)


def bytes_found(paths, values: list[str]) -> bool:
    """Whether raw database files hold any of the values, read by another process: closing a file this
    process opened would drop the SQLite locks of Airflow's own open connections (POSIX lock semantics)."""
    script = (
        "import sys, json; paths, values = json.loads(sys.argv[1]); "
        "raw = b''.join(open(p, 'rb').read() for p in paths).lower(); "
        "print(any(v.lower().encode() in raw for v in values))"
    )
    argument = json.dumps([[str(p) for p in paths], values])
    found = subprocess.run([sys.executable, "-c", script, argument], capture_output=True, text=True, check=True)
    return found.stdout.strip() == "True"


_METADATA_HITS = """
import contextlib, json, sqlite3, sys
path, needles = sys.argv[1], [v.lower() for v in json.loads(sys.argv[2])]
hits = {}
with contextlib.closing(sqlite3.connect(path)) as db:
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        found = 0
        for row in db.execute(f'SELECT * FROM "{table}"'):
            text = " ".join(v.decode("utf-8", "ignore") if isinstance(v, bytes) else str(v) for v in row).lower()
            found += any(n in text for n in needles)
        if found:
            hits[table] = found
print(json.dumps(hits))
"""


def metadata_hits(airflow_home: Path, values: list[str]) -> dict[str, int]:
    """Rows of every table of Airflow's metadata DB holding any of the values (as text, any case).

    Read from another process, as bytes_found does: a connection this process opened and
    closed would drop the SQLite locks of Airflow's own connections here."""
    found = subprocess.run([sys.executable, "-c", _METADATA_HITS, str(airflow_home / "airflow.db"), json.dumps(values)],
                           capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    return json.loads(found.stdout)


def log_hits(airflow_home: Path, values: list[str]) -> list[str]:
    needles = [v.lower() for v in values]
    logs = Path(os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"])
    return sorted(
        str(p.relative_to(logs))
        for p in logs.rglob("*")
        if p.is_file() and any(n in p.read_bytes().decode("utf-8", "ignore").lower() for n in needles)
    )


def test_erased_persons_identifiers_are_gone_from_airflow_metadata_after_the_purge(warehouse, clients_dir, airflow_db):
    person = build_world(warehouse, clients_dir).person
    given = [person.email, person.phone_delivered]
    conf = _conf("erasure", email=person.email, phone=person.phone_delivered)
    # As the data team runs it: the CLI, whose command line Airflow writes to its audit log.
    command = [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, "2026-11-20", "-c", json.dumps(conf)]
    finished = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]

    # Airflow itself holds the request's conf and command line; KCM's tasks added the identifiers nowhere else.
    before = metadata_hits(airflow_db, given)
    assert before.get("dag_run", 0) >= 1 and before.get("log", 0) >= 1, before
    assert set(before) <= {"dag_run", "log"}, f"identifiers reached {sorted(before)} (XCom? rendered fields?)"
    assert log_hits(airflow_db, person.planted) == []
    task_output = (finished.stdout + finished.stderr).lower().replace(json.dumps(conf).lower(), "")
    assert not any(v.lower() in task_output for v in person.planted), "task logs must not print identifiers"

    purged = purge("--days", "0")

    assert purged.returncode == 0, purged.stderr[-2000:]
    assert "deleted" in purged.stdout and " 0 run(s)" not in purged.stdout
    assert metadata_hits(airflow_db, given) == {}
    assert not bytes_found(airflow_db.glob("airflow.db*"), given), "deleted rows linger in the database file"


def _runs_holding(value: str) -> int:
    """Runs of the request DAG whose conf holds the value, read through Airflow's own session."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        confs = [run.conf for run in session.query(DagRun).filter(DagRun.dag_id == DAG_ID)]
    return sum(value.lower() in json.dumps(conf or {}).lower() for conf in confs)


def test_purge_keeps_runs_younger_than_the_term_and_says_what_it_would_do(warehouse, clients_dir, run_dag, airflow_db):
    person = build_world(warehouse, clients_dir).person
    assert _succeeded(run_dag(DAG_ID, RUN_DAY, conf=_conf("access", email=person.email)))
    assert _runs_holding(person.email) == 1

    assert purge("--days", "7").returncode == 0
    assert _runs_holding(person.email) == 1, "a run that ended today is within its term"
    dry_run = purge("--days", "0", "--dry-run")
    assert dry_run.returncode == 0 and "would delete" in dry_run.stdout
    assert _runs_holding(person.email) == 1
    assert purge("--days", "0").returncode == 0
    assert _runs_holding(person.email) == 0
