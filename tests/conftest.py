"""Shared fixtures: a private KCM_HOME and Airflow home per session, and a fresh
warehouse per test on SQLite and on PostgreSQL.

PostgreSQL comes from KCM_TEST_POSTGRES_URL (a server URL; each test creates and
drops its own database). When unset, a throwaway server is started with
pg_ctl if available; otherwise PostgreSQL tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Airflow reads its settings at import: fix them before anything imports airflow.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="kcm-tests-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_SESSION_DIR / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_SESSION_DIR / "airflow" / "logs"),
        "GX_ANALYTICS_ENABLED": "false",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "KCM_HOME": str(_SESSION_DIR / "kcm_home"),
        # deduce's lookup cache takes ~80 s to build: build it once per checkout, not per test.
        "KCM_DEDUCE_CACHE": os.environ.get("KCM_DEDUCE_CACHE", str(ROOT / "var" / "cache" / "deduce")),
        # Tasks keep their retries, but a failing test should not wait minutes between tries.
        "KCM_RETRY_DELAY_SECONDS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
)
os.environ.pop("AIRFLOW_CONN_KCM_WAREHOUSE", None)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
    # CI sets KCM_NO_SKIPS: a skipped test there means something was not exercised.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("KCM_NO_SKIPS") and skipped and session.exitstatus == 0:
        print(f"\nKCM_NO_SKIPS is set and {skipped} test(s) were skipped: failing the run.")
        session.exitstatus = 1


# --- PostgreSQL --------------------------------------------------------------


class _ThrowawayPostgres:
    def __init__(self) -> None:
        self.dir = _SESSION_DIR / "pg"
        self.port = 55432 + os.getpid() % 1000
        self.url: str | None = None
        self.reason = ""

    def start(self) -> None:
        pg_ctl = shutil.which("pg_ctl") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))), None)
        if not pg_ctl:
            self.reason = "PostgreSQL tests skipped: KCM_TEST_POSTGRES_URL is unset and no pg_ctl was found"
            return
        bindir = Path(pg_ctl).parent
        user = []
        if os.geteuid() == 0:  # initdb refuses root: run the throwaway server as 'postgres' if it exists
            user = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else []
            self.dir = Path(tempfile.mkdtemp(prefix="kcm-pg-"))
            shutil.chown(self.dir, "postgres")
        try:
            subprocess.run([*user, str(bindir / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust"],
                           check=True, capture_output=True)
            subprocess.run([*user, str(pg_ctl), "-D", str(self.dir / "data"), "-o", f"-p {self.port} -k {self.dir}",
                            "-l", str(self.dir / "log"), "-w", "start"], check=True, capture_output=True)
        except (subprocess.CalledProcessError, OSError) as exc:
            self.reason = f"PostgreSQL tests skipped: could not start a throwaway server ({exc})"
            return
        self._stop = [*user, str(pg_ctl), "-D", str(self.dir / "data"), "-m", "immediate", "stop"]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.url:
            subprocess.run(self._stop, capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_url():
    """URL of a PostgreSQL server to create test databases on, or skip with the reason."""
    url = os.environ.get("KCM_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    server = _ThrowawayPostgres()
    server.start()
    if not server.url:
        pytest.skip(server.reason)
    try:
        yield server.url
    finally:
        server.stop()


def _admin(url: str, statement: str) -> None:
    import sqlalchemy as sa

    eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(sa.text(statement))
    eng.dispose()


@pytest.fixture
def postgres_url(postgres_server_url):
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = f"kcm_test_{uuid.uuid4().hex[:12]}"
    _admin(postgres_server_url, f'CREATE DATABASE "{name}"')
    url = make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    yield url
    from include import warehouse

    warehouse._engine.cache_clear()
    warehouse._migrated.cache_clear()
    _admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- KCM_HOME, clients, warehouse -----------------------------------------------


@pytest.fixture
def kcm_home(tmp_path, monkeypatch) -> Path:
    """A private data root for one test."""
    home = tmp_path / "kcm_home"
    home.mkdir()
    monkeypatch.setenv("KCM_HOME", str(home))
    return home


@pytest.fixture
def clients_dir(tmp_path, monkeypatch) -> Path:
    """An empty clients folder for one test; write YAMLs into it (see tests/factories.py)."""
    folder = tmp_path / "clients"
    folder.mkdir()
    monkeypatch.setenv("KCM_CLIENTS_DIR", str(folder))
    return folder


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, kcm_home, monkeypatch) -> str:
    """The warehouse of one test as an Airflow connection URI, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{kcm_home / 'warehouse.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("AIRFLOW_CONN_KCM_WAREHOUSE", url)
    return url


@pytest.fixture
def warehouse(warehouse_url):
    """A migrated warehouse engine (SQLite or PostgreSQL) for one test."""
    from include import warehouse as wh

    eng = wh.engine()
    yield eng
    eng.dispose()


# --- Airflow ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB for the session (SQLite in the session's Airflow home)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture
def run_dag(airflow_db):
    """Run one DAG through Airflow's own runner (`dag.test()`) and return the DagRun.

    DAGs are parsed fresh from the project's dags/ folder so the test's
    KCM_CLIENTS_DIR and connection env apply.
    """
    import datetime as dt

    def run(dag_id: str, logical_date: dt.datetime | str, conf: dict | None = None):
        from airflow.dag_processing.dagbag import DagBag

        if isinstance(logical_date, str):
            logical_date = dt.datetime.fromisoformat(logical_date)
        if logical_date.tzinfo is None:
            logical_date = logical_date.replace(tzinfo=dt.timezone.utc)
        bag = DagBag(dag_folder=str(ROOT / "dags"))
        assert not bag.import_errors, bag.import_errors
        dag = bag.dags.get(dag_id)
        assert dag is not None, f"no DAG {dag_id}; have {sorted(bag.dag_ids)}"
        return dag.test(logical_date=logical_date, run_conf=conf)

    return run
