"""Crash safety: a night killed at any point and run again ends exactly where an uninterrupted night ends,
in the warehouse and in the file store, with every row's deletion or anonymisation audited once.

The night runs in a subprocess that dies (os._exit, as a killed worker would) at a named point:
KCM_CRASH_AT, see include.retention.checkpoint.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from include import retention
from include import warehouse as wh
from tests.test_retention_world import (
    add_recording,
    load_people,
    person,
    quarantine_a_file,
    snapshot,
    sync_client,
)

ROOT = Path(__file__).resolve().parent.parent
NIGHT = dt.date(2027, 2, 28)
NIGHT_SCRIPT = (
    "import datetime as dt\n"
    "from include import config, retention, warehouse\n"
    "retention.run_night(warehouse.engine(), config.get_client('acme'), dt.date(2027, 2, 28),\n"
    "                    run_id='scheduled__2027-02-28T01:00:00+00:00', batch_size=3)\n"
)
CRASH_POINTS = [
    "recordings_marked_deleting",  # rows marked 'deleting' and committed, no file deleted yet
    "recording_files_deleted",  # files gone, their rows not yet
    "r4_respondents_batch_uncommitted",  # in the middle of a destruction transaction
    "r3_batch_uncommitted",
    "r2_batch_uncommitted",  # between the answers' and the people's UPDATE
    "r2_batch_committed",  # after the first of several batches
    "quarantine_files_deleted",  # files gone, records not yet marked purged
]

PEOPLE = (
    # a1 completed 2027-01-31: its one-month term ends tonight (R2).
    [person("a1", invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T10:00:00+01:00", seed=n)
     for n in range(8)]
    # a2 runs: these never answered and were invited more than two months ago (R3) ...
    + [person("a2", invited_at="2026-12-15T09:00:00+01:00", seed=100 + n) for n in range(7)]
    # ... these answered.
    + [person("a2", invited_at="2026-12-15T09:00:00+01:00", responded_at="2026-12-16T09:00:00+01:00", seed=200 + n)
       for n in range(2)]
    # a3's destruction was requested for 20 February (R4).
    + [person("a3", invited_at="2027-01-10T09:00:00+01:00", responded_at="2027-01-11T10:00:00+01:00", seed=300 + n)
       for n in range(5)]
)  # fmt: skip
ASSIGNMENTS = [
    {"id": "a1", "title": "Winter", "completed_on": "2027-01-31", "destruction_requested_on": None},
    {"id": "a2", "title": "Lopend", "completed_on": None, "destruction_requested_on": None},
    {"id": "a3", "title": "Ingetrokken", "completed_on": None, "destruction_requested_on": "2027-02-20"},
]


@pytest.fixture
def world(warehouse_url, clients_dir, tmp_path, monkeypatch, request):
    """A builder of identical worlds (own KCM_HOME, own database) on the test's database server."""
    made: list = []

    def build(name: str) -> dict:
        home = tmp_path / name
        home.mkdir()
        if warehouse_url.startswith("sqlite"):
            url = f"sqlite:///{home / 'warehouse.db'}"
        else:
            server = request.getfixturevalue("postgres_server_url")
            database = f"kcm_test_{uuid.uuid4().hex[:12]}"
            _admin(server, f'CREATE DATABASE "{database}"')
            url = sa.engine.make_url(server).set(database=database).render_as_string(hide_password=False)
            made.append((server, database))
        monkeypatch.setenv("KCM_HOME", str(home))
        monkeypatch.setenv("AIRFLOW_CONN_KCM_WAREHOUSE", url)
        eng = wh.engine()
        sync_client(eng, clients_dir, k_anonymity=2, retention_months=1, open_text="drop", assignments=ASSIGNMENTS)
        ids = load_people(eng, "acme", [dict(p) for p in PEOPLE])
        refs = list(ids.values())
        for n, index in enumerate((0, 1, 2, 8, 17, 18)):  # a1 x3, a non-respondent, a3 x2
            add_recording(eng, tmp_path, "acme", PEOPLE[index]["assignment_id"], refs[index], seed=n)
        quarantine_a_file(eng, tmp_path, "acme", on=dt.date(2027, 1, 20), content="kapot;bestand\n")
        env = {**os.environ, "KCM_HOME": str(home), "AIRFLOW_CONN_KCM_WAREHOUSE": url, "PYTHONPATH": str(ROOT)}
        return {"home": home, "url": url, "engine": eng, "env": env}

    yield build
    for server, database in made:
        wh._engine.cache_clear()
        _admin(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _admin(server: str, statement: str) -> None:
    eng = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(sa.text(statement))
    eng.dispose()


def run_night(world: dict, crash_at: str | None = None) -> int:
    env = dict(world["env"])
    env.pop("KCM_CRASH_AT", None)
    if crash_at:
        env["KCM_CRASH_AT"] = crash_at
    done = subprocess.run([sys.executable, "-c", NIGHT_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert crash_at or done.returncode == 0, done.stderr[-2000:]
    return done.returncode


_reference: dict[str, tuple] = {}


def reference_night(world, dialect: str) -> tuple[dict, dict]:
    """The uninterrupted night's end state and audited row counts (built once per database kind)."""
    if dialect not in _reference:
        clean = world("uninterrupted")
        assert run_night(clean) == 0
        _reference[dialect] = (
            snapshot(clean["engine"], clean["home"]),
            retention.night_summary(clean["engine"], "acme", NIGHT)["rows"],
        )
    return _reference[dialect]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_night_killed_at_any_point_and_rerun_ends_as_an_uninterrupted_night(world, warehouse_url, point):
    dialect = "sqlite" if warehouse_url.startswith("sqlite") else "postgresql"
    expected_state, expected_rows = reference_night(world, dialect)
    crashed = world("crashed")
    assert run_night(crashed, crash_at=point) == 1, f"the night never reached {point}"
    assert snapshot(crashed["engine"], crashed["home"]) != expected_state, "the crash left the night unfinished"
    assert run_night(crashed) == 0
    assert snapshot(crashed["engine"], crashed["home"]) == expected_state
    assert retention.night_summary(crashed["engine"], "acme", NIGHT)["rows"] == expected_rows


def test_the_reference_night_did_everything_it_had_to(world, warehouse_url):
    dialect = "sqlite" if warehouse_url.startswith("sqlite") else "postgresql"
    state, audited = reference_night(world, dialect)
    assert audited == {"respondents": 8 + 7 + 5, "responses": 8 + 5, "recordings": 6, "quarantine_records": 1}
    assert state["files"] == []
    assert {r["assignment_id"]: r["status"] for r in state["assignments"]} == {
        "a1": "anonymised", "a2": "running", "a3": "destroyed"
    }  # fmt: skip
