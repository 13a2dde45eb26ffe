"""The simulated year of `make demo`: nightly retention through Airflow's runner, a second delivery,
one data-subject request of each type, and where an auditor finds the evidence.

Every night that runs is a whole `kcm_retention__<client>` DAG run through Airflow's own runner
(`dag.test`, on one DagBag parsed for the year). Not every calendar night runs: 365 nights for
every client would take an hour on a small machine. A client's night runs when something falls
due for it (read from the warehouse: R2 term ends, R3 non-respondent due days, R4 destruction
days, R10 quarantine and export terms), on the night after a request, and on the 1st of a month
in which nothing else falls due. Each night handles everything due on or before its as-of day,
so a skipped night, with nothing due, would have changed nothing.

What this module prints or returns carries ids, dates and counts only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from include import sql, terms
from include.config import ClientConfig

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# The retention DAGs' first night (dags/kcm_clients.py RETENTION_START) unless a client sets onboarded_on.
FIRST_NIGHT = dt.date(2026, 12, 1)
YEAR_DAYS = 365
# Office hours of the first night's day: a person asks, the next night proves they are gone.
REQUESTS_DAY = FIRST_NIGHT
SECOND_DELIVERY_DAY = dt.date(2027, 5, 17)
SECOND_DELIVERY_PEOPLE = 40
# Respondent refs of the second delivery start here, so no earlier person is delivered again.
SECOND_DELIVERY_REF_START = 100_001
NIGHT_HOUR, INGEST_HOUR = 2, 6

COLUMNS = (
    ("anonymised", "anonymised"),
    ("non_respondents", "non-resp. deleted"),
    ("destroyed", "destroyed"),
    ("recordings", "recordings"),
    ("quarantine", "quarantine"),
)


@contextlib.contextmanager
def output_to(log: Path, heading: str = "") -> Iterator[None]:
    """Send this process's stdout and stderr (Airflow's task logs included) to `log` for a while."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("a", encoding="utf-8") as handle:
        if heading:
            handle.write(f"\n===== {heading} =====\n")
            handle.flush()
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            yield
        except Exception:
            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


# --- Airflow's runner ------------------------------------------------------------------------


@dataclass(frozen=True)
class DagRunResult:
    dag_id: str
    run_id: str | None
    state: str
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.state == "success"


class AirflowRunner:
    """Runs the project's DAGs with Airflow's own runner (`dag.test`) on one parsed DagBag.

    Retries are switched off: a demo that failed should say so at once, not wait out the
    five-minute retry delay. Airflow's output goes to one log per DAG in `log_dir`.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        with output_to(log_dir / "dagbag.log", "parsing the DAG folder"):
            from airflow.dag_processing.dagbag import DagBag

            self.bag = DagBag()
        for dag in self.bag.dags.values():
            for task in dag.tasks:
                task.retries = 0

    def log_of(self, dag_id: str) -> Path:
        return self.log_dir / f"{dag_id}.log"

    def run(self, dag_id: str, day: dt.date, hour: int) -> DagRunResult:
        """One DAG run for `day` at `hour` Europe/Amsterdam (its as-of day is `day`)."""
        dag = self.bag.dags.get(dag_id)
        if dag is None:
            broken = ", ".join(Path(path).name for path in self.bag.import_errors) or "none"
            raise LookupError(f"no DAG {dag_id} in the DAG folder (files with import errors: {broken})")
        logical_date = dt.datetime.combine(day, dt.time(hour), AMSTERDAM)
        started = time.monotonic()
        run_id, state = None, "failed"
        with output_to(self.log_of(dag_id), f"{dag_id} for {day}"):
            try:
                dag_run = dag.test(logical_date=logical_date)
                run_id, state = dag_run.run_id, str(getattr(dag_run.state, "value", dag_run.state))
            except Exception:  # noqa: BLE001 - the run failed; its traceback is in the DAG's log
                traceback.print_exc()
        return DagRunResult(dag_id, run_id, state, time.monotonic() - started)


# --- which nights run ---------------------------------------------------------------------------


def _day(value: object) -> dt.date | None:
    if value is None:
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def first_night(client: ClientConfig) -> dt.date:
    return max(FIRST_NIGHT, client.onboarded_on or FIRST_NIGHT)


def due_days(eng: Engine, client: ClientConfig, *, start: dt.date) -> set[dt.date]:
    """R2, R3, R4, R10: the days on which something of the client falls due; anything overdue falls on `start`."""
    params = {"client_id": client.client_id}
    with eng.connect() as conn:
        fixed = conn.execute(sql.statement("demo_due_days", eng.dialect.name), params).scalars().all()
        invited = conn.execute(sql.statement("demo_non_respondent_invitations", eng.dialect.name), params)
        invited_on = [_day(value) for value in invited.scalars()]
    days = {_day(value) for value in fixed if value is not None}
    days |= {terms.add_months(day, client.non_respondent_months) for day in invited_on if day}
    return {max(day, start) for day in days}


def export_due_days(*, start: dt.date) -> set[dt.date]:
    """R10: the days subject-request exports reach their term (30 days after they were written)."""
    from include import retention, settings

    folder = settings.exports_dir()
    if not folder.is_dir():
        return set()
    days = set()
    for entry in folder.iterdir():
        newest = max([entry.lstat().st_mtime, *(p.lstat().st_mtime for p in entry.rglob("*"))])
        written_on = dt.datetime.fromtimestamp(newest, AMSTERDAM).date()
        days.add(max(written_on + dt.timedelta(days=retention.EXPORT_DAYS), start))
    return days


def quiet_month(plan: set[dt.date], first: dt.date) -> bool:
    """Whether nothing is planned in the month that starts on `first`."""
    return not any(first <= day < terms.add_months(first, 1) for day in plan)


# --- one night ------------------------------------------------------------------------------------


@dataclass
class Night:
    """What one client's night did, from its audit events (R12): counts, assignments, proof."""

    client_id: str
    as_of: dt.date
    state: str
    run_id: str | None
    proof: str
    counts: dict[str, int]
    notes: list[str]

    @property
    def changed(self) -> bool:
        return any(self.counts.values()) or bool(self.notes)


def read_night(eng: Engine, client_id: str, as_of: dt.date, result: DagRunResult) -> Night:
    """The night's counts and proof as the audit trail records them (include.retention.night_summary)."""
    from include import retention

    summary = retention.night_summary(eng, client_id, as_of)
    actions = summary["actions"]
    counts = {
        "anonymised": summary["anonymised_respondents"],
        "non_respondents": summary["deleted_non_respondents"],
        "destroyed": summary["destroyed_respondents"],
        "recordings": summary["recordings_deleted"],
        "quarantine": summary["rows"].get("quarantine_records", 0),
    }
    notes = []
    if summary["files"].get("export"):
        notes.append(f"R10 {summary['files']['export']} export file(s) purged")
    with eng.connect() as conn:
        events = conn.execute(
            sql.statement("r12_night_events", eng.dialect.name), {"client_id": client_id, "as_of": as_of}
        ).all()
    for event in events:
        if event.action == "assignment_anonymised":
            notes.append(f"R2 {event.assignment_id} anonymised")
        elif event.action == "assignment_destroyed":
            notes.append(f"R4 {event.assignment_id} destroyed")
        elif event.action == "client_destroyed":
            notes.append("R4 whole client destroyed")
    if actions.get("proof_failed"):
        proof = "FAILED"
    elif actions.get("proof_passed"):
        proof = "passed" if result.succeeded else "passed (run failed)"
    else:
        proof = "none" if result.succeeded else "run failed"
    return Night(client_id, as_of, result.state, result.run_id, proof, counts, notes)


# --- events of the year ------------------------------------------------------------------------------


def write_second_delivery(client: ClientConfig, landing: Path, day: dt.date) -> dict[str, int] | None:
    """A smaller delivery for the client's running assignments (Dutch Excel: ';' and a BOM); one bad e-mail."""
    from include import sample_data

    running = [a.id for a in client.assignments if a.completed_on is None and not a.destruction_requested_on]
    if not running or client.destruction_requested_on:
        return None
    seed = zlib.crc32(f"{client.client_id}-{day}".encode())
    people = sample_data.fake_respondents(
        SECOND_DELIVERY_PEOPLE, assignment_ids=running, seed=seed, as_of=day, ref_start=SECOND_DELIVERY_REF_START
    )
    # One spoilt row: it goes to quarantine with its reason and a term of its own (R10).
    people[0]["email"] = people[0]["email"].replace("@", "@@", 1)
    name = f"responses_{day:%Y%m%d}_tweede_levering.csv"
    sample_data.write_responses_csv(landing / name, people, delimiter=";", bom=True)
    return {"rows": len(people), "non_respondents": sum(1 for p in people if not p["responded_at"])}


def stamp_exports(day: dt.date) -> int:
    """Date the day's exports to the simulated day, so their 30-day term (R10) follows the simulated calendar."""
    from include import settings

    folder = settings.exports_dir()
    if not folder.is_dir():
        return 0
    moment = dt.datetime.combine(day, dt.time(12), AMSTERDAM).timestamp()
    stamped = 0
    for entry in folder.iterdir():
        for path in [*entry.rglob("*"), entry]:
            os.utime(path, (moment, moment), follow_symlinks=False)
        stamped += 1
    return stamped


@dataclass
class Request:
    request_id: str
    request_type: str
    status: str
    due_on: dt.date | None
    people: int
    per_client: dict[str, int]


def describe_requests(eng: Engine, answers: Sequence[dict]) -> list[Request]:
    """Type, status and due day from the warehouse; people and records per client from the answers."""
    described = []
    with eng.connect() as conn:
        for answer in answers:
            row = (
                conn.execute(sql.statement("r6_request", eng.dialect.name), {"request_id": answer["request_id"]})
                .mappings()
                .one()
            )
            per_client = {
                client_id: int(counts.get("respondents", 0)) if isinstance(counts, dict) else 0
                for client_id, counts in sorted((answer.get("clients") or {}).items())
            }
            described.append(
                Request(
                    answer["request_id"],
                    row["request_type"],
                    row["status"],
                    _day(row["due_on"]),
                    int(answer.get("people", 0)),
                    per_client,
                )
            )
    return described


# --- the year -----------------------------------------------------------------------------------------


@dataclass
class Year:
    first_day: dt.date
    last_day: dt.date
    nights: dict[str, list[Night]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    deliveries: list[tuple[dt.date, str, dict, DagRunResult]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    requests_day: dt.date | None = None
    stopped_early: bool = False

    @property
    def failed(self) -> list[Night]:
        return [n for nights in self.nights.values() for n in nights if n.proof != "passed" or n.state != "success"]


def answer_requests(
    runner: AirflowRunner, eng: Engine, clients: Sequence[ClientConfig], day: dt.date, progress: Callable[[str], None]
) -> list[Request]:
    """R6/R7: one request of each type on people of the warehouse (include.subject_requests.demo_requests).

    Called directly rather than through `kcm_subject_request`: a DAG run's conf would put the
    person's identifiers into Airflow's metadata DB, which the demo has no reason to do.
    """
    from include import subject_requests

    try:
        with output_to(runner.log_dir / "subject_requests.log", f"one request of each type on {day}"):
            answers = subject_requests.demo_requests(eng, clients, as_of=day)
            stamp_exports(day)
    except subject_requests.RequestError as exc:  # its message names no person
        progress(f"  {day}: no subject requests: {exc}")
        return []
    return describe_requests(eng, answers)


def deliver_again(
    runner: AirflowRunner, clients: Sequence[ClientConfig], day: dt.date, progress: Callable[[str], None]
) -> list[tuple[str, dict, DagRunResult]]:
    """A second delivery for each client with a running assignment, ingested through `kcm_ingest__<client>`."""
    from include import settings

    delivered = []
    for client in clients:
        written = write_second_delivery(client, settings.landing_dir(client.client_id), day)
        if written is None:
            continue
        result = runner.run(f"kcm_ingest__{client.client_id}", day, INGEST_HOUR)
        delivered.append((client.client_id, written, result))
        progress(
            f"  {day}: second delivery for {client.client_id} ({written['rows']} rows) through "
            f"kcm_ingest__{client.client_id}: {result.state}"
        )
    return delivered


def simulate_year(
    runner: AirflowRunner,
    eng: Engine,
    clients: Sequence[ClientConfig],
    *,
    start: dt.date,
    nights_limit: int | None = None,
    progress: Callable[[str], None] = print,
) -> Year:
    """Run the year's nights, its second delivery and its subject requests in calendar order.

    `nights_limit` ends the year after that many days with a night (the quick demo).
    """
    year = Year(first_day=start, last_day=start + dt.timedelta(days=YEAR_DAYS - 1))
    by_id = {c.client_id: c for c in clients}
    plan = {c.client_id: {first_night(c)} | due_days(eng, c, start=first_night(c)) for c in clients}
    year.nights = {c.client_id: [] for c in clients}
    days_with_nights = month_nights = month_failed = 0
    day = min((first_night(c) for c in clients), default=year.last_day + dt.timedelta(days=1))
    while day <= year.last_day:
        tomorrow = day + dt.timedelta(days=1)
        if day.day == 1:  # a month in which nothing falls due still gets one proven night
            for client in clients:
                if day >= first_night(client) and quiet_month(plan[client.client_id], day):
                    plan[client.client_id].add(day)
        tonight = [c for c in clients if day in plan[c.client_id]]
        for client in tonight:
            result = runner.run(f"kcm_retention__{client.client_id}", day, NIGHT_HOUR)
            night = read_night(eng, client.client_id, day, result)
            year.nights[client.client_id].append(night)
            month_nights += 1
            month_failed += night.proof != "passed" or night.state != "success"
        days_with_nights += bool(tonight)
        if day == REQUESTS_DAY and clients:
            year.requests, year.requests_day = answer_requests(runner, eng, clients, day, progress), day
            for client_id in {c for r in year.requests for c in r.per_client}:
                plan[client_id].add(tomorrow)  # the next proof shows the erased and objecting people gone
            # Exports are one store for all clients: the first client's night purges them at term.
            plan[clients[0].client_id] |= export_due_days(start=tomorrow)
        if day == SECOND_DELIVERY_DAY:
            for client_id, written, result in deliver_again(runner, clients, day, progress):
                year.deliveries.append((day, client_id, written, result))
                plan[client_id] |= due_days(eng, by_id[client_id], start=tomorrow)
        if tomorrow.month != day.month or tomorrow > year.last_day:
            if month_nights:
                verdict = "proof passed on every night" if not month_failed else f"{month_failed} FAILED"
                progress(f"  {day:%Y-%m}: {month_nights} client nights run through Airflow, {verdict}")
            month_nights = month_failed = 0
        if nights_limit is not None and days_with_nights >= nights_limit:
            year.stopped_early = tomorrow <= year.last_day
            year.last_day = day
            break
        day = tomorrow
    for client in clients:
        days_in_year = max(0, (year.last_day - first_night(client)).days + 1)
        year.skipped[client.client_id] = days_in_year - len(year.nights[client.client_id])
    return year


# --- what the demo prints -----------------------------------------------------------------------------


def render_client_year(client_id: str, dag_id: str, nights: Sequence[Night], skipped: int) -> list[str]:
    """A compact table of the nights in which something happened, and a count of the quiet ones."""
    busy = [n for n in nights if n.changed or n.proof != "passed" or n.state != "success"]
    quiet = len(nights) - len(busy)
    passed = sum(n.proof == "passed" and n.state == "success" for n in nights)
    lines = [f"== {client_id}: {len(nights)} nights run through Airflow ({dag_id}), proof passed on {passed}"]
    widths = [max(len(label), 5) for _key, label in COLUMNS]
    header = "   night       " + "  ".join(f"{label:>{w}}" for (_k, label), w in zip(COLUMNS, widths, strict=True))
    lines.append(header + "  proof   what")
    for night in busy:
        cells = "  ".join(f"{night.counts[key]:>{w}}" for (key, _label), w in zip(COLUMNS, widths, strict=True))
        lines.append(f"   {night.as_of}  {cells}  {night.proof:<6}  {'; '.join(night.notes)}".rstrip())
    totals = "  ".join(
        f"{sum(n.counts[key] for n in nights):>{w}}" for (key, _label), w in zip(COLUMNS, widths, strict=True)
    )
    lines.append(f"   total       {totals}")
    lines.append(
        f"   quiet nights: {quiet} run with nothing due (nothing changed, proof passed), "
        f"{skipped} not run (nothing due)"
    )
    return lines


ABSENCE_CHECKS = ("R6 respondents.erased_present", "R7 respondents.suppressed_present")


def absence_proved(client_id: str, nights: Sequence[Night], after: dt.date) -> tuple[dt.date, dict[str, int]] | None:
    """R6/R7: what the first proof after the requests counted of the erased and objecting people (0: gone)."""
    import json

    from include import reports

    night = next((n for n in nights if n.as_of > after and n.proof == "passed"), None)
    if night is None:
        return None
    path = reports.nightly_paths(client_id, night.as_of)["json"]
    checks = {c["check_id"]: c["observed"] for c in json.loads(path.read_text(encoding="utf-8"))["expectations"]}
    return night.as_of, {check: checks[check] for check in ABSENCE_CHECKS if check in checks}


def render_requests(requests: Sequence[Request], day: dt.date | None, year: Year) -> list[str]:
    """One line per request (type, id, status, people and records per client), then the proof that followed."""
    if not requests:
        return []
    lines = [f"== Subject requests on {day} (R6, R7): one of each type, identifiers never shown"]
    for request in requests:
        clients = ", ".join(f"{c} {n}" for c, n in request.per_client.items()) or "none"
        lines.append(
            f"   {request.request_type:<14} {request.request_id}  {request.status:<5} (due {request.due_on})  "
            f"people matched: {request.people}; records per client: {clients}"
        )
    asked = sorted({c for r in requests if r.request_type in ("erasure", "objection") for c in r.per_client})
    for client_id in asked:
        proved = absence_proved(client_id, year.nights.get(client_id, []), day)
        if proved is None:
            lines.append(f"   no proof for {client_id} ran after the requests")
            continue
        night, counts = proved
        found = ", ".join(f"{check.split()[0]} {check.split('.')[-1]} {n}" for check, n in counts.items())
        lines.append(f"   the proof of the night of {night} proved them gone for {client_id}: {found}")
    return lines
