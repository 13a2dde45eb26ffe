"""`make demo`: sample deliveries for every client, ingested by Airflow's own runner, then a summary.

Runs on the embedded default (SQLite warehouse under KCM_HOME, Airflow metadata DB
under AIRFLOW_HOME; both in the git-ignored var/). Every stage is one function, so
later stages (a year of nightly retention runs) slot into `main`.
The data is invented (include/sample_data.py); KCM_HOME is wiped at the start.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_DAY = dt.date(2026, 11, 20)
# Airflow's full output per run; KCM_DEMO_LOG_DIR moves it (tests run the demo in a temporary folder).
LOG_DIR = Path(os.environ.get("KCM_DEMO_LOG_DIR") or PROJECT_ROOT / "var" / "demo-logs")
# A folder is only wiped when it is inside var/ or carries this marker (a demo made it).
DEMO_MARKER = ".kcm-demo"

# The Makefile's environment, for runs without make (`python -m scripts.demo`).
_ENVIRONMENT = {
    "AIRFLOW_HOME": str(PROJECT_ROOT / "var" / "airflow"),
    "KCM_HOME": str(PROJECT_ROOT / "var" / "kcm_home"),
    "KCM_DEDUCE_CACHE": str(PROJECT_ROOT / "var" / "cache" / "deduce"),
    "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/Amsterdam",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    "GX_ANALYTICS_ENABLED": "false",
    "SCARF_ANALYTICS": "false",
    "DO_NOT_TRACK": "1",
}


class DemoError(RuntimeError):
    """The demo cannot run safely as configured; the message says what to change."""


def prepare_environment() -> None:
    """Fill in the Makefile's environment where unset; refuse to run against a real warehouse."""
    for key, value in _ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(PROJECT_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), *paths]))
    if os.environ.get("AIRFLOW_CONN_KCM_WAREHOUSE"):
        raise DemoError(
            "AIRFLOW_CONN_KCM_WAREHOUSE is set: the demo wipes and fills its warehouse, so it runs only on the "
            "embedded SQLite default; unset it to run the demo"
        )


def _shown(path: Path) -> Path:
    return path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path


def _airflow(*args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    """Run the Airflow CLI of this virtualenv; output goes to `log` (or is captured)."""
    command = [sys.executable, "-m", "airflow", *args]
    if log is None:
        return subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), cwd=PROJECT_ROOT)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as handle:
        return subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=os.environ.copy(), cwd=PROJECT_ROOT)


def migrate_airflow_db() -> None:
    """Stage 1: create Airflow's metadata DB (SQLite in AIRFLOW_HOME) when it does not exist yet."""
    custom_db = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if not custom_db and (Path(os.environ["AIRFLOW_HOME"]) / "airflow.db").exists():
        print("Airflow metadata DB: present")
        return
    print("Airflow metadata DB: migrating (airflow db migrate) ...", end=" ", flush=True)
    result = _airflow("db", "migrate", log=LOG_DIR / "airflow-db-migrate.log")
    if result.returncode != 0:
        raise DemoError(f"airflow db migrate failed; see {_shown(LOG_DIR / 'airflow-db-migrate.log')}")
    print("done")


def reset_kcm_home() -> Path:
    """Stage 2: a clean data root; only a folder inside var/ or made by an earlier demo is wiped."""
    home = Path(os.environ["KCM_HOME"]).resolve()
    inside_var = home.is_relative_to(PROJECT_ROOT / "var")
    if home.exists() and any(home.iterdir()) and not inside_var and not (home / DEMO_MARKER).exists():
        raise DemoError(
            f"KCM_HOME={home} holds data the demo did not create; the demo wipes KCM_HOME, "
            "so point KCM_HOME at an empty folder (or leave it unset for var/kcm_home)"
        )
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / DEMO_MARKER).write_text("Created by `make demo`: invented data, wiped by the next demo.\n")
    for old_log in LOG_DIR.glob("kcm_*.log"):
        old_log.unlink()
    print(f"KCM_HOME: reset {home}")
    return home


def generate_deliveries(day: dt.date) -> dict[str, dict]:
    """Stage 3: one invented delivery (with deliberate faults) per valid client, in its landing folder."""
    from include import config, sample_data, settings

    clients, errors = config.load_clients()
    for error in errors:
        print(f"Skipping a client config that does not validate ({error.path.name}); run `make check-config`")
    written = {}
    for client in clients:
        seed = zlib.crc32(client.client_id.encode())  # stable per client: the same demo every time
        written[client.client_id] = sample_data.generate_delivery(
            client,
            settings.landing_dir(client.client_id),
            as_of=day,
            seed=seed,
            respondents=120 + seed % 160,
            recordings=5 + seed % 10,
        )
        counts = written[client.client_id]
        print(
            f"Delivery for {client.client_id}: {len(counts['responses_files'])} responses file(s) with "
            f"{counts['rows']} rows, {counts['recordings']} recordings, "
            f"{len(counts['broken_files'])} broken file(s), {sum(counts['planted_bad_rows'].values())} bad row(s)"
        )
    return written


def run_ingest(client_ids: list[str], day: dt.date) -> dict[str, bool]:
    """Stage 4: `airflow dags test kcm_ingest__<client> <day>` per client; full output in var/demo-logs/."""
    outcome = {}
    for client_id in client_ids:
        dag_id = f"kcm_ingest__{client_id}"
        log = LOG_DIR / f"{dag_id}.log"
        print(f"Running {dag_id} for {day} ...", end=" ", flush=True)
        started = time.monotonic()
        returncode = _dags_test(dag_id, day, log)
        outcome[client_id] = returncode == 0
        verdict = "success" if outcome[client_id] else f"FAILED (see {_shown(log)})"
        print(f"{verdict} in {time.monotonic() - started:.0f} s")
    return outcome


def _dags_test(dag_id: str, day: dt.date, log: Path) -> int:
    """Run one DAG with Airflow's runner; stop at the first failed try instead of waiting out retry_delay."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "airflow", "dags", "test", dag_id, day.isoformat()]
    with log.open("w", encoding="utf-8") as handle, log.open(encoding="utf-8", errors="replace") as follow:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=os.environ.copy(),
                                   cwd=PROJECT_ROOT, start_new_session=True)  # fmt: skip
        # The DAGs retry after 5 minutes; `dags test` would sit idle that long for a demo that already failed.
        recent = ""
        while process.poll() is None:
            time.sleep(1)
            recent = recent[-200:] + follow.read()
            if "new_state=up_for_retry" in recent:
                _stop(process)
                handle.write("\n[demo] a task failed; stopped instead of waiting for its retry\n")
                return 1
    return process.returncode


def _stop(process: subprocess.Popen) -> None:
    """End the `dags test` run this demo started (its own session), forcefully if it lingers."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def delivery_outcome(eng, client_id: str) -> dict:
    """What became of a client's delivery files: counts, reason codes, quarantined files (no personal values)."""
    from include import sql

    dialect, params = eng.dialect.name, {"client_id": client_id}
    with eng.connect() as conn:
        deliveries = conn.execute(sql.statement("demo_client_deliveries", dialect), params).mappings().all()
        quarantined = conn.execute(sql.statement("demo_client_quarantined_files", dialect), params).mappings().all()
        stored = conn.execute(sql.statement("demo_client_recordings_stored", dialect), params).scalar_one()
    # Row reasons come from files that loaded; a whole quarantined file's reason is listed with the file.
    loaded = [d for d in deliveries if d["status"] != "quarantined"]
    row_reasons: Counter[str] = Counter()
    for delivery in loaded:
        reasons = delivery["reasons"]
        row_reasons.update(json.loads(reasons) if isinstance(reasons, str) else dict(reasons or {}))
    return {
        "files_by_kind": dict(sorted(Counter(d["file_kind"] for d in deliveries).items())),
        "files_by_status": dict(sorted(Counter(d["status"] for d in deliveries).items())),
        "rows_total": sum(d["rows_total"] for d in deliveries),
        "rows_loaded": sum(d["rows_loaded"] for d in deliveries),
        "rows_quarantined": sum(d["rows_quarantined"] for d in loaded),
        "row_reasons": {code: n for code, n in row_reasons.items() if isinstance(n, int)},
        "recordings_stored": stored,
        # A WAV's name comes from a manifest and is personal data: only delivery files (CSVs) are named.
        "quarantined_files": [
            (
                q["file_name"] if _is_delivery_file(q["file_name"]) else f"a {q['file_kind'] or 'delivered'} file",
                q["reason_code"],
                q["reason"] if _is_delivery_file(q["file_name"]) else "",
            )
            for q in quarantined
        ],  # fmt: skip
    }


def _is_delivery_file(name: str | None) -> bool:
    lower = (name or "").lower()
    return lower.endswith(".csv") and lower.startswith(("responses", "recordings"))


def _counted(counts: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items()) or "none"


def render_summary(client_id: str, ingested: bool, outcome: dict, holdings: dict | None) -> list[str]:
    """The readable per-client block the demo prints."""
    lines = [f"== {client_id}: ingest {'succeeded' if ingested else 'FAILED'}"]
    lines.append(
        f"   files delivered:     {sum(outcome['files_by_kind'].values())} ({_counted(outcome['files_by_kind'])})"
    )
    lines.append(f"   outcome per file:    {_counted(outcome['files_by_status'])}")
    lines.append(f"   rows loaded:         {outcome['rows_loaded']} of {outcome['rows_total']}")
    reasons = sorted(outcome["row_reasons"].items(), key=lambda kv: (-kv[1], kv[0]))
    lines.append(f"   rows quarantined:    {outcome['rows_quarantined']} (from files that loaded)")
    lines += [f"     {count:>5} x {code}" for code, count in reasons]
    lines.append(f"   recordings stored:   {outcome['recordings_stored']}")
    lines.append(f"   files quarantined:   {len(outcome['quarantined_files'])}")
    for label, code, reason in outcome["quarantined_files"]:
        lines.append(f"     {label}: {code}" + (f" ({reason[:160]})" if reason and reason != code else ""))
    if holdings:
        scalars = {k: v for k, v in holdings.items() if isinstance(v, int) and not isinstance(v, bool)}
        lines.append(f"   warehouse holds:     {_counted(scalars)}")
    return lines


def print_summaries(client_ids: list[str], outcome: dict[str, bool]) -> None:
    """Stage 5: per client, what was delivered, loaded, quarantined (and why) and stored."""
    from include import warehouse

    try:
        from include.ingest.summary import client_summary
    except ImportError:  # the warehouse summary is optional: the delivery outcome stands alone
        client_summary = None
    eng = warehouse.engine()
    for client_id in client_ids:
        holdings = client_summary(eng, client_id) if client_summary else None
        print()
        print(
            "\n".join(
                render_summary(client_id, outcome.get(client_id, False), delivery_outcome(eng, client_id), holdings)
            )
        )
    eng.dispose()


def main() -> int:
    """Run the demo stages in order; exit 1 when any client's ingest failed."""
    try:
        prepare_environment()
        migrate_airflow_db()
        reset_kcm_home()
        written = generate_deliveries(DEMO_DAY)
        outcome = run_ingest(sorted(written), DEMO_DAY)
        print_summaries(sorted(written), outcome)
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    failed = sorted(c for c, ok in outcome.items() if not ok)
    print(f"\nFull Airflow output: {_shown(LOG_DIR)}/")
    if failed:
        print(f"demo: ingest failed for {', '.join(failed)}", file=sys.stderr)
        return 1
    print("Demo finished: every client's delivery was ingested.")
    print("Next: `make airflow` to browse the runs in the Airflow UI, `make verify-audit` to check the audit trail.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
