"""`make demo`: sample deliveries for every client, ingested by Airflow's own runner, a year of nightly
retention with its proof, one data-subject request of each type, and where the reports are.

Runs on the embedded default (SQLite warehouse under KCM_HOME, Airflow metadata DB
under AIRFLOW_HOME; both in the git-ignored var/). Every stage is one function; the
simulated year lives in scripts/demo_year.py. The data is invented
(include/sample_data.py); KCM_HOME is wiped at the start. `--nights N` (or env
KCM_DEMO_NIGHTS) stops the year after N nights: the quick demo the tests run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
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
# The demo's own suppression secret (R7), new every run; KCM_DEMO_SECRET_FILE moves it (tests).
SECRET_FILE = Path(os.environ.get("KCM_DEMO_SECRET_FILE") or PROJECT_ROOT / "var" / "demo-suppression-secret")

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


def use_demo_secret() -> None:
    """A fresh random suppression secret (R7) for this run, kept in var/ (owner-only) and never printed."""
    from include import suppression

    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    SECRET_FILE.unlink(missing_ok=True)
    value = secrets.token_urlsafe(48)
    descriptor = os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    os.environ[suppression.SECRET_ENV] = value
    # A configured connection would win over the variable: the demo's invented people get the demo's secret.
    os.environ.pop(f"AIRFLOW_CONN_{suppression.CONN_ID.upper()}", None)
    # A failed task should end the demo's run at once, not wait out the retry delay.
    os.environ["KCM_TASK_RETRIES"] = "0"


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
    for old_log in LOG_DIR.glob("*.log"):
        if old_log.name != "airflow-db-migrate.log":  # written just before, by this run
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


def start_airflow():
    """Parse the DAG folder once; every DAG run of the demo goes through this runner."""
    from scripts.demo_year import AirflowRunner

    print("Parsing the DAG folder ...", end=" ", flush=True)
    runner = AirflowRunner(LOG_DIR)
    print(f"{len(runner.bag.dags)} DAGs")
    return runner


def run_ingest(runner, client_ids: list[str], day: dt.date) -> dict[str, bool]:
    """Stage 4: `kcm_ingest__<client>` for `day` through Airflow's runner; full output in var/demo-logs/."""
    from scripts.demo_year import INGEST_HOUR

    outcome = {}
    for client_id in client_ids:
        dag_id = f"kcm_ingest__{client_id}"
        print(f"Running {dag_id} for {day} ...", end=" ", flush=True)
        result = runner.run(dag_id, day, INGEST_HOUR)
        outcome[client_id] = result.succeeded
        verdict = "success" if result.succeeded else f"FAILED (see {_shown(runner.log_of(dag_id))})"
        print(f"{verdict} in {result.seconds:.0f} s")
    return outcome


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


YEAR_INTRO = """\
Simulated year {first} .. {last}: the nightly DAG kcm_retention__<client> through Airflow's runner.
A client's night runs when something falls due for it (R2 term end, R3 non-respondent due day,
R4 destruction, R10 quarantine or export term: read from the warehouse), the night after a
subject request, and on the 1st of a month in which nothing else falls due, so every month has
a proven night. Every night handles all that is due on or before its as-of day, so a night with
nothing due, not run, changes nothing."""


def run_year(runner, nights_limit: int | None):
    """Stage 6: the year's nights, its second delivery and one subject request of each type."""
    from include import config, warehouse
    from scripts import demo_year

    clients, _errors = config.load_clients()
    eng = warehouse.engine()
    print()
    print(YEAR_INTRO.format(first=DEMO_DAY, last=DEMO_DAY + dt.timedelta(days=demo_year.YEAR_DAYS - 1)))
    started = time.monotonic()
    year = demo_year.simulate_year(runner, eng, clients, start=DEMO_DAY, nights_limit=nights_limit)
    nights = sum(len(n) for n in year.nights.values())
    print(f"  {nights} client nights in {time.monotonic() - started:.0f} s")
    if year.stopped_early:
        print(f"  (shortened: the year stopped after the night of {year.last_day}, as --nights asked)")
    for client in clients:
        print()
        lines = demo_year.render_client_year(
            client.client_id, f"kcm_retention__{client.client_id}", year.nights[client.client_id],
            year.skipped[client.client_id],
        )  # fmt: skip
        print("\n".join(lines))
    requests = demo_year.render_requests(year.requests, year.requests_day, year)
    if requests:
        print()
        print("\n".join(requests))
    return year, clients, eng


def print_evidence(year, clients, eng) -> bool:
    """Stage 7: where an auditor finds the evidence: nightly proofs, a monthly report, the register, the trail."""
    from include import audit, register, reports
    from scripts.demo_year import FIRST_NIGHT, output_to

    month = FIRST_NIGHT  # the year's first month of nights: terms, a destruction and the first purges
    with output_to(LOG_DIR / "reports.log", "monthly reports and register"):
        monthly = {c.client_id: reports.monthly_report(eng, c.client_id, month.year, month.month) for c in clients}
        written = register.write()
        chain = audit.verify(eng)
    print()
    print("== Evidence for an auditor (ids, dates and counts only)")
    for client in clients:
        nights = year.nights[client.client_id]
        if nights:
            # Point at the night something reached its term, where the report has most to show.
            shown = next((n for n in nights if n.notes), nights[-1])
            report = reports.nightly_paths(client.client_id, shown.as_of)["html"]
            print(
                f"   nightly proofs, {client.client_id}: {_shown(report.parent)}/ ({len(nights)} nights, .html and "
                f".json), e.g. {report.name}" + (f" ({'; '.join(shown.notes)})" if shown.notes else "")
            )
    for client_id, paths in monthly.items():
        print(f"   monthly report {month:%Y-%m}, {client_id}: {_shown(Path(paths['html']))}")
    print(f"   register of processing (R8): {_shown(written['html'])}, {_shown(written['md'])}")
    print(f"   audit trail (R12): {chain.events} events, hash chain {'intact' if chain.ok else 'BROKEN'}")
    return chain.ok


def _nights_limit(argv: list[str] | None) -> int | None:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--nights", type=int, default=os.environ.get("KCM_DEMO_NIGHTS") or None,
        help="stop the simulated year after this many nights (default: the whole year; env KCM_DEMO_NIGHTS)",
    )  # fmt: skip
    nights = parser.parse_args(argv).nights
    if nights is not None and nights < 1:
        parser.error("--nights must be at least 1")
    return nights


def main(argv: list[str] | None = None) -> int:
    """Run the demo stages in order; exit 1 when an ingest, a night or its proof failed."""
    nights_limit = _nights_limit(argv)
    try:
        prepare_environment()
        use_demo_secret()
        migrate_airflow_db()
        reset_kcm_home()
        written = generate_deliveries(DEMO_DAY)
        runner = start_airflow()
        outcome = run_ingest(runner, sorted(written), DEMO_DAY)
        print_summaries(sorted(written), outcome)
        failed = sorted(c for c, ok in outcome.items() if not ok)
        if failed:
            print(f"\nFull Airflow output: {_shown(LOG_DIR)}/")
            print(f"demo: ingest failed for {', '.join(failed)}", file=sys.stderr)
            return 1
        year, clients, eng = run_year(runner, nights_limit)
        chain_ok = print_evidence(year, clients, eng)
    except (DemoError, LookupError) as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    print(f"\nFull Airflow output: {_shown(LOG_DIR)}/")
    failed_ingest = [f"{client_id} on {day}" for day, client_id, _w, result in year.deliveries if not result.succeeded]
    if year.failed or failed_ingest or not chain_ok:
        problems = [f"{n.client_id} on {n.as_of} (proof {n.proof}, run {n.state})" for n in year.failed]
        problems += [f"ingest of {where}" for where in failed_ingest]
        problems += [] if chain_ok else ["the audit trail's hash chain"]
        print(f"demo: failed: {'; '.join(problems)}", file=sys.stderr)
        return 1
    print("Demo finished: every delivery ingested, every night's proof passed, every request answered.")
    print("Next: `make airflow` to browse the runs in the Airflow UI, `make verify-audit` to check the audit trail.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
