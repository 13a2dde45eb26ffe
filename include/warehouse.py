"""The warehouse: reached through the Airflow connection `kcm_warehouse` (design §4).

Resolution order: env `AIRFLOW_CONN_KCM_WAREHOUSE` (URI or JSON, as Airflow reads
it), then the connection stored in Airflow (inside a task), then SQLite under
KCM_HOME. SQLite runs with `secure_delete` so deleted personal data is
overwritten in the file (R10).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from include import settings

CONN_ID = "kcm_warehouse"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x4B434D  # PostgreSQL advisory lock key held while migrating ("KCM")

_SCHEMES = {"postgres": "postgresql+psycopg2", "postgresql": "postgresql+psycopg2", "sqlite": "sqlite"}


def _url_from_airflow(value: str) -> URL:
    """Translate an Airflow connection (URI or JSON form) into a SQLAlchemy URL."""
    if value.lstrip().startswith("{"):
        spec = json.loads(value)
        scheme = _SCHEMES.get(spec.get("conn_type", ""), spec.get("conn_type", ""))
        if scheme == "sqlite":
            return URL.create("sqlite", database=spec.get("host") or spec.get("schema"))
        return URL.create(
            scheme, username=spec.get("login"), password=spec.get("password"),
            host=spec.get("host"), port=spec.get("port"), database=spec.get("schema"),
        )
    url = make_url(value)
    driver = _SCHEMES.get(url.drivername.split("+")[0])
    if driver is None:
        raise ValueError(f"connection {CONN_ID}: unsupported type {url.drivername!r}; use postgresql:// or sqlite:///")
    return url.set(drivername=driver if "+" not in url.drivername else url.drivername)


def warehouse_url() -> URL:
    raw = os.environ.get(f"AIRFLOW_CONN_{CONN_ID.upper()}")
    if raw:
        return _url_from_airflow(raw)
    if os.environ.get("AIRFLOW_CTX_DAG_ID"):  # inside an Airflow task: ask Airflow
        try:
            from airflow.sdk import BaseHook

            return _url_from_airflow(BaseHook.get_connection(CONN_ID).get_uri())
        except Exception:  # noqa: BLE001 - no such connection: fall through to the default
            pass
    path = settings.kcm_home() / "warehouse.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return URL.create("sqlite", database=str(path))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete = ON")  # R10: freed pages are zeroed
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 60000")
    cursor.close()


@functools.cache
def _engine(url: str) -> Engine:
    parsed = make_url(url)
    # hide_parameters: a failed statement's error must not quote delivery values (R10).
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool, hide_parameters=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2, hide_parameters=True)


def engine() -> Engine:
    """The warehouse engine, migrated to the newest schema."""
    url = warehouse_url().render_as_string(hide_password=False)
    eng = _engine(url)
    _migrated(url)
    return eng


@functools.cache
def _migrated(url: str) -> None:
    migrate(_engine(url))


def migrate(eng: Engine, revision: str = "head", *, down: bool = False) -> None:
    """Bring the schema up (or `down`) to `revision` (Alembic; same migrations on SQLite and PostgreSQL)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with eng.begin() as connection:
        if connection.dialect.name == "postgresql":
            # The first tasks on a new warehouse start together: one migrates, the others wait here and find it done.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(cfg, revision)


def is_postgres(eng: Engine) -> bool:
    return eng.dialect.name == "postgresql"
