"""Airflow's production topology as local processes, for integration tests and benchmarks.

The docker-compose topology (design §5) without Docker: `airflow api-server`,
`scheduler`, `dag-processor` and `celery worker` processes sharing one metadata
database (PostgreSQL, or SQLite for an api-server alone), the local Redis as Celery
broker, and the project's dags/ and plugins/ folders. Every secret (JWT, Fernet,
API, admin password) is random per topology; every process runs in its own
process group, so `stop()` ends it with everything it spawned, on success and on
failure alike.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"
FINISHED = frozenset({"success", "failed"})
_RUNNING: set[int] = set()  # process groups still alive, for the atexit safety net


class TopologyError(RuntimeError):
    """A component did not start or died; the message carries the tail of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_server() -> str:
    """Server URL to create throwaway databases on (KCM_TEST_POSTGRES_URL or the local default)."""
    return os.environ.get("KCM_TEST_POSTGRES_URL") or DEFAULT_POSTGRES


def _admin(server_url: str, statement: str) -> None:
    import sqlalchemy as sa

    url = server_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    eng = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with eng.connect() as conn:
        conn.execute(sa.text(statement))
    eng.dispose()


def create_database(prefix: str, server_url: str | None = None) -> str:
    """A new, empty PostgreSQL database; returns its URL (postgresql://...)."""
    from sqlalchemy.engine import make_url

    server_url = server_url or postgres_server()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _admin(server_url, f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    _admin(parsed.set(database="postgres").render_as_string(hide_password=False),
           f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')  # fmt: skip


def redis_url() -> str:
    return os.environ.get("KCM_TEST_REDIS_URL") or DEFAULT_REDIS


@dataclass
class Topology:
    """One Airflow deployment under `root`: its environment, processes and REST API."""

    root: Path
    clients_dir: Path
    metadata_url: str | None = None  # PostgreSQL URL; None: SQLite in AIRFLOW_HOME
    warehouse_url: str | None = None  # None: SQLite under KCM_HOME
    executor: str = "CeleryExecutor"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    username: str = "kcm_it"
    project: Path = PROJECT  # where dags/, include/ and plugins/ come from (a snapshot keeps a long run on one commit)

    def __post_init__(self) -> None:
        from cryptography.fernet import Fernet

        self.root.mkdir(parents=True, exist_ok=True)
        self.airflow_home = self.root / "airflow"
        self.kcm_home = self.root / "kcm_home"
        self.logs = self.root / "logs"
        for folder in (self.airflow_home, self.kcm_home, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(16)
        self.queue = f"kcm_it_{uuid.uuid4().hex[:8]}"  # no other run's worker takes our tasks
        passwords = self.airflow_home / "passwords.json"
        passwords.write_text(json.dumps({self.username: self.password}))
        passwords.chmod(0o600)
        self.processes: dict[str, subprocess.Popen] = {}
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KCM_"))}
        self.env = {
            **inherited,
            "PATH": f"{BIN}{os.pathsep}{inherited.get('PATH', '')}",
            "PYTHONPATH": str(self.project),
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.project / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(self.project / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/Amsterdam",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__EXPOSE_CONFIG": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.airflow_home / "logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "KCM_HOME": str(self.kcm_home),
            "KCM_CLIENTS_DIR": str(self.clients_dir),
            "KCM_SUPPRESSION_SECRET": secrets.token_urlsafe(32),
            # deduce builds its lookup cache once (1-2 minutes); every run on this machine shares it.
            "KCM_DEDUCE_CACHE": os.environ.get("KCM_DEDUCE_CACHE") or str(PROJECT / "var" / "cache" / "deduce"),
            "GX_ANALYTICS_ENABLED": "false",
            "SCARF_ANALYTICS": "false",
            "DO_NOT_TRACK": "1",
        }
        if self.metadata_url:
            self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = self.metadata_url.replace(
                "postgresql://", "postgresql+psycopg2://", 1
            )
        if self.executor == "CeleryExecutor":
            if not self.metadata_url:
                raise ValueError("the Celery topology needs a PostgreSQL metadata database (metadata_url)")
            self.env["AIRFLOW__CELERY__BROKER_URL"] = redis_url()
            self.env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + self.metadata_url
        if self.warehouse_url:
            self.env["AIRFLOW_CONN_KCM_WAREHOUSE"] = self.warehouse_url
        self.env.update(self.extra_env)

    # --- processes -------------------------------------------------------------------------

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run one Airflow CLI command to completion (e.g. `db migrate`); raise with its output on failure."""
        result = subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.env,
            cwd=self.project,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise TopologyError(
                f"airflow {' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def start(self, name: str, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """Start `airflow <args>` as component `name`, in its own process group, logging to logs/<name>.log."""
        _exit_on_sigterm()
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [str(BIN / "airflow"), *args],
            env={**self.env, **(env or {})},
            cwd=self.project,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.processes[name] = process
        _RUNNING.add(process.pid)
        return process

    def start_api_server(self, timeout: float = 90) -> None:
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1")
        self.wait_until(lambda: self._healthy(), timeout, "the api-server to answer /api/v2/monitor/health")

    def start_scheduler(self) -> None:
        self.start("scheduler", "scheduler")

    def start_dag_processor(self) -> None:
        self.start("dag-processor", "dag-processor")

    def start_worker(self, name: str = "worker", concurrency: int = 2) -> None:
        self.start(
            name,
            "celery", "worker",
            "--celery-hostname", f"{name}-{self.queue}@%h",
            "--concurrency", str(concurrency),
            "--queues", self.queue,
            "--skip-serve-logs",
            "--without-gossip", "--without-mingle",
        )  # fmt: skip

    def stop(self, grace: float = 20) -> None:
        """End every component and what it spawned: SIGTERM to each process group, SIGKILL after `grace` s."""
        for process in self.processes.values():
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():
            _signal_group(process.pid, signal.SIGKILL)  # stragglers: task processes of the group, too
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            _RUNNING.discard(process.pid)
        self.processes.clear()

    def forget_queue(self) -> None:
        """Remove this topology's Celery queue from the shared Redis database."""
        import redis

        client = redis.Redis.from_url(redis_url())
        for key in client.scan_iter(match=f"*{self.queue}*"):
            client.delete(key)
        client.close()

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def check_alive(self) -> None:
        """Raise with the log tail of any component that exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise TopologyError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def logs_tail(self, lines: int = 40) -> str:
        return "\n".join(f"--- {name} ---\n{self.log_tail(name, lines)}" for name in self.processes)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) each component's process group has used, its reaped children included."""
        ticks = os.sysconf("SC_CLK_TCK")
        groups = {process.pid: name for name, process in self.processes.items()}
        used = dict.fromkeys(self.processes, 0.0)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                # After the command name: state, ppid, pgrp, ... utime (12th), stime, cutime, cstime.
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if (name := groups.get(int(fields[2]))) is not None:
                    used[name] += sum(int(value) for value in fields[11:15]) / ticks
        return used

    def workloads(self) -> list[Workload]:
        """Every task process the Celery workers ran (sensor pokes included), from their logs, in order."""
        started: dict[str, tuple[str, str, str]] = {}
        found: list[Workload] = []
        for log in sorted(self.logs.glob("worker*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if match := _EXECUTING.search(line):
                    started[match.group(1)] = (match.group(3), match.group(4), match.group(2))
                elif (match := _FINISHED.search(line)) and match.group(3) in started:
                    dag_id, run_id, task_id = started[match.group(3)]
                    found.append(Workload(dag_id, run_id, task_id, float(match.group(1)), match.group(2)))
        return found

    def task_parse_milliseconds(self) -> list[float]:
        """How long each task process took to parse its own DAG (Airflow's "Worker startup parse complete")."""
        found = []
        for log in (self.airflow_home / "logs").glob("dag_id=*/run_id=*/task_id=*/attempt=*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if "Worker startup parse complete" in line and (match := _PARSE_MS.search(line)):
                    found.append(float(match.group(1)))
        return found

    def parse_durations(self, file_name: str = "kcm_clients.py") -> list[float]:
        """Seconds each parse of a DAG file took, oldest first, from the dag-processor's stats tables."""
        pattern = re.compile(rf"\s{re.escape(file_name)}\s.*?(\d+(?:\.\d+)?)s\s+(\d{{4}}-\d\d-\d\dT\S+)")
        seen: dict[str, float] = {}
        log = self.logs / "dag-processor.log"
        for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
            if match := pattern.search(line):
                seen.setdefault(match.group(2), float(match.group(1)))
        return list(seen.values())

    def wait_until(self, predicate, timeout: float, what: str, interval: float = 0.5):
        """Poll `predicate` until it returns something truthy; fail naming `what` and the components' logs."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(httpx.TransportError):
                value = predicate()
                if value:
                    return value
            if time.monotonic() > deadline:
                raise TopologyError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs_tail()}")
            time.sleep(interval)

    def _healthy(self) -> bool:
        return httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).status_code == 200

    # --- REST API --------------------------------------------------------------------------

    def api(self) -> AirflowApi:
        return AirflowApi(self.base_url, self.username, self.password, self)


_EXECUTING = re.compile(
    r"Executing workload in Celery:.*?ti=TaskInstanceDTO\(id=UUID\('([0-9a-f-]+)'\), task_id='([^']+)', "
    r"dag_id='([^']+)', run_id='([^']+)'"
)
_FINISHED = re.compile(r"Workload finished.*?duration=([\d.]+).*?final_state=(\w+).*?workload_id=([0-9a-f-]+)")
_PARSE_MS = re.compile(r'"dag_file_parse_ms":\s*(\d+(?:\.\d+)?)')


@dataclass(frozen=True)
class Workload:
    """One task process a worker ran: a task try, or one poke of a sensor in reschedule mode."""

    dag_id: str
    run_id: str
    task_id: str
    seconds: float  # the worker's slot was taken this long (the supervisor's own measure)
    final_state: str


class AirflowApi:
    """Airflow's public REST API (/api/v2) with a JWT from POST /auth/token."""

    def __init__(self, base_url: str, username: str, password: str, topology: Topology | None = None) -> None:
        self.base_url = base_url
        self.topology = topology
        answer = httpx.post(f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=30)
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        answer = self.http.request(method, path, **kwargs)
        if answer.status_code >= 400:
            raise TopologyError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer

    def pages(
        self, method: str, path: str, key: str, *, params: dict | None = None, body: dict | None = None
    ) -> list[dict]:
        """Every item of a paged list endpoint (the API returns at most 100 per page)."""
        items: list[dict] = []
        while True:
            if method == "GET":
                page = self.request("GET", path, params={**(params or {}), "limit": 100, "offset": len(items)}).json()
            else:
                page = self.request(
                    method, path, json={**(body or {}), "page_limit": 100, "page_offset": len(items)}
                ).json()
            items += page[key]
            if not page[key] or len(items) >= page["total_entries"]:
                return items

    def dag_ids(self, prefix: str = "kcm_") -> set[str]:
        return {d["dag_id"] for d in self.pages("GET", "/api/v2/dags", "dags", params={"dag_id_pattern": prefix})}

    def import_errors(self) -> list[dict]:
        return self.pages("GET", "/api/v2/importErrors", "import_errors")

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 120) -> None:
        wanted = set(dag_ids)

        def parsed() -> bool:
            return wanted <= self.dag_ids()

        if self.topology:
            self.topology.wait_until(parsed, timeout, f"the dag-processor to parse {sorted(wanted)}", interval=1)
        else:
            _poll(parsed, timeout, "DAGs to be parsed")

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(
        self, dag_id: str, logical_date: dt.datetime, conf: Mapping | None = None, run_id: str | None = None
    ) -> str:
        body: dict = {"logical_date": logical_date.isoformat(), "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body).json()["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()

    def wait_for_runs(
        self, runs: Iterable[tuple[str, str]], timeout: float = 300, *, fail_on_retry: bool = True
    ) -> dict[tuple[str, str], dict]:
        """Wait until every (dag_id, run_id) finished; return each run's JSON (state, start and end dates).

        With `fail_on_retry`, a task waiting for a retry fails the wait at once (retries are minutes apart).
        """
        pending = set(runs)
        done: dict[tuple[str, str], dict] = {}

        def finished() -> bool:
            for key in sorted(pending):
                run = self.run(*key)
                if run["state"] in FINISHED:
                    done[key] = run
                    pending.discard(key)
                elif fail_on_retry:
                    retrying = {t: s for t, s in self.task_states(*key).items() if s in ("up_for_retry", "failed")}
                    if retrying:
                        raise TopologyError(f"{key[0]} {key[1]}: task(s) failed: {retrying}")
            return not pending

        if self.topology:
            self.topology.wait_until(finished, timeout, f"{len(pending)} DAG run(s) to finish", interval=2)
        else:
            _poll(finished, timeout, "DAG runs to finish")
        return done

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        instances = self.pages("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances")
        return {
            f"{ti['task_id']}[{ti['map_index']}]" if ti["map_index"] >= 0 else ti["task_id"]: ti["state"]
            for ti in instances
        }

    def runs_of(self, dag_id_prefix: str = "kcm_") -> list[dict]:
        """Every DAG run of the DAGs matching a prefix (for overlap checks)."""
        body = {"dag_ids": sorted(self.dag_ids(dag_id_prefix))}
        return self.pages("POST", "/api/v2/dags/~/dagRuns/list", "dag_runs", body=body)

    def task_instances_of(self, dag_id_prefix: str = "kcm_") -> list[dict]:
        """Every task instance of the DAGs matching a prefix (for concurrency checks)."""
        body = {"dag_ids": sorted(self.dag_ids(dag_id_prefix))}
        return self.pages("POST", "/api/v2/dags/~/dagRuns/~/taskInstances/list", "task_instances", body=body)


def client_of(dag_id: str) -> str | None:
    """The client a per-client DAG belongs to (kcm_ingest__acme -> acme); None for shared DAGs."""
    return dag_id.split("__", 1)[1] if "__" in dag_id else None


def overlapping_runs(runs: Iterable[Mapping]) -> list[tuple[str, str, str]]:
    """(client, run, run) for every two runs of one client whose start-to-end spans intersect (design §6)."""
    return _overlaps(runs, lambda r: f"{r['dag_id']}/{r['dag_run_id']}")


def overlapping_tasks(task_instances: Iterable[Mapping], skip: Iterable[str] = ()) -> list[tuple[str, str, str]]:
    """(client, task, task) for every two task instances of one client that ran at the same time.

    `skip` names tasks left out, such as a sensor in reschedule mode: its start-to-end span covers all its waiting.
    """
    skipped = set(skip)
    return _overlaps(
        (t for t in task_instances if t["task_id"] not in skipped),
        lambda t: f"{t['dag_id']}/{t['dag_run_id']}/{t['task_id']}[{t['map_index']}]",
    )


ACQUIRE_LEASE, RELEASE_LEASE = "acquire_lease", "release_lease"


def lease_spans(task_instances: Iterable[Mapping]) -> list[dict]:
    """Per run, when it held its client's lease: from its acquire_lease task's end to its release_lease task's start.

    Waiting in acquire_lease is not holding. A run whose release_lease never started holds to its last task's end.
    """
    runs: dict[tuple[str, str], dict[str, Mapping]] = {}
    last_end: dict[tuple[str, str], str] = {}
    for ti in task_instances:
        key = (ti["dag_id"], ti["dag_run_id"])
        runs.setdefault(key, {})[ti["task_id"]] = ti
        if ti.get("end_date") and (key not in last_end or _moment(ti["end_date"]) > _moment(last_end[key])):
            last_end[key] = ti["end_date"]
    spans = []
    for (dag_id, run_id), tasks in sorted(runs.items()):
        acquired = (tasks.get(ACQUIRE_LEASE) or {}).get("end_date")
        if not acquired or tasks[ACQUIRE_LEASE].get("state") != "success":
            continue
        released = (tasks.get(RELEASE_LEASE) or {}).get("start_date")
        spans.append({"dag_id": dag_id, "dag_run_id": run_id, "start_date": acquired,
                      "end_date": released or last_end[(dag_id, run_id)], "released": bool(released)})  # fmt: skip
    return spans


def overlapping_leases(task_instances: Iterable[Mapping]) -> list[tuple[str, str, str]]:
    """(client, run, run) for every two runs of one client whose lease-held spans intersect (design §6)."""
    return _overlaps(lease_spans(task_instances), lambda s: f"{s['dag_id']}/{s['dag_run_id']}")


def _overlaps(spans: Iterable[Mapping], name) -> list[tuple[str, str, str]]:
    found = []
    by_client: dict[str, list[Mapping]] = {}
    for span in spans:
        client_id = client_of(span["dag_id"])
        if client_id and span.get("start_date") and span.get("end_date"):
            by_client.setdefault(client_id, []).append(span)
    for client_id, mine in sorted(by_client.items()):
        mine.sort(key=lambda r: _moment(r["start_date"]))
        latest = mine[0]
        for span in mine[1:]:
            if _moment(span["start_date"]) < _moment(latest["end_date"]):
                found.append((client_id, name(latest), name(span)))
            if _moment(span["end_date"]) > _moment(latest["end_date"]):
                latest = span
    return found


def _moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _poll(predicate, timeout: float, what: str, interval: float = 1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TopologyError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _exit_on_sigterm() -> None:
    """A terminated test or bench unwinds (fixtures, `finally`, atexit) instead of dying with its processes up."""
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(128 + signal.SIGTERM))


@atexit.register
def _kill_leftovers() -> None:
    """Safety net: a crashed test or bench never leaves Airflow processes behind."""
    for pid in list(_RUNNING):
        _signal_group(pid, signal.SIGKILL)
