"""The warehouse queries behind the data team's Retention view (R2, R3, R4, R6, R11, R12).

Counts, ids and dates only: what each client stores, what falls due within the
horizon, what the last nightly runs anonymised and deleted (from the audit trail),
the last proof, open subject requests and the history for the chart. Nothing here
reads a personal column's value; the view shows no personal data. Every question is
asked for an as-of day (default: today in Europe/Amsterdam), like the nightly runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include import settings, sql, terms

HORIZON_DAYS = 30
OVERVIEW_NIGHT_DAYS = 14
DETAIL_NIGHT_DAYS = 60
NIGHTS_SHOWN = 10
HISTORY_DAYS = 180
REPORT_SUFFIXES = (".html", ".json", ".css")
# Audit actions whose rows.respondents are people deleted outright (R3, R4, R6 erasure, R7 objection).
_DELETING_RULES = frozenset({"R3", "R4", "R6", "R7"})


# --- what the view shows ------------------------------------------------------------------


@dataclass(frozen=True)
class DueAssignment:
    """An assignment that must be anonymised (R2) or destroyed (R4) by `due_on`."""

    client_id: str
    assignment_id: str
    title: str
    rule: str
    due_on: dt.date
    personal_respondents: int
    recordings: int
    overdue: bool


@dataclass(frozen=True)
class Night:
    """What the runs of one as-of night did for a client, summed from its audit events (R12)."""

    as_of: dt.date
    runs: int = 0
    anonymised: int = 0
    assignments_anonymised: int = 0
    non_respondents_deleted: int = 0
    destroyed: int = 0
    erased: int = 0
    recordings_deleted: int = 0
    files_purged: int = 0

    @property
    def deleted(self) -> int:
        return self.non_respondents_deleted + self.destroyed + self.erased


@dataclass(frozen=True)
class Proof:
    """A client's newest proof (R11): its night, verdict and the report an auditor reads."""

    as_of: dt.date | None
    passed: bool
    recorded_at: dt.datetime | None
    run_id: str | None
    failed_checks: int | None
    report: str | None  # path relative to KCM_HOME/reports, when the file exists


@dataclass(frozen=True)
class SubjectRequest:
    """An open data-subject request (R6): due one calendar month after receipt."""

    request_id: str
    request_type: str
    client_scope: str
    received_on: dt.date
    due_on: dt.date
    overdue: bool


@dataclass(frozen=True)
class ClientRow:
    """One client's line in the view."""

    client_id: str
    name: str
    country: str
    retention_months: int
    non_respondent_months: int
    destroyed_on: dt.date | None
    personal_respondents: int = 0
    anonymised_respondents: int = 0
    recordings: int = 0
    due_assignments: tuple[DueAssignment, ...] = ()
    due_non_respondents: int = 0
    overdue_non_respondents: int = 0
    last_night: Night | None = None
    proof: Proof | None = None
    open_requests: tuple[SubjectRequest, ...] = ()

    @property
    def due_respondents(self) -> int:
        return sum(a.personal_respondents for a in self.due_assignments)

    @property
    def overdue_requests(self) -> int:
        return sum(1 for r in self.open_requests if r.overdue)


@dataclass(frozen=True)
class Overview:
    """Every client the user may see, for one as-of day."""

    as_of: dt.date
    horizon: dt.date
    clients: tuple[ClientRow, ...]
    requests_tracked: bool
    requests_for_all_clients: tuple[SubjectRequest, ...] = ()

    def client(self, client_id: str) -> ClientRow | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    @property
    def totals(self) -> dict[str, int]:
        return {
            "personal_respondents": sum(c.personal_respondents for c in self.clients),
            "anonymised_respondents": sum(c.anonymised_respondents for c in self.clients),
            "recordings": sum(c.recordings for c in self.clients),
            "due_respondents": sum(c.due_respondents for c in self.clients),
            "due_non_respondents": sum(c.due_non_respondents for c in self.clients),
            "open_requests": len({r.request_id for c in self.clients for r in c.open_requests}),
            "overdue_requests": len({r.request_id for c in self.clients for r in c.open_requests if r.overdue}),
        }


@dataclass(frozen=True)
class HistoryPoint:
    """One day of the chart: respondents holding personal data, anonymised, and deleted since the start."""

    day: dt.date
    personal: int
    anonymised: int
    deleted: int


@dataclass(frozen=True)
class ClientDetail:
    """One client's page: its line, its recent nights and the chart's history."""

    client: ClientRow
    as_of: dt.date
    horizon: dt.date
    requests_tracked: bool
    nights: tuple[Night, ...] = ()
    history: tuple[HistoryPoint, ...] = ()


# --- queries -------------------------------------------------------------------------------


def today() -> dt.date:
    """The as-of day of the wall clock: today in Europe/Amsterdam (design §4)."""
    return terms.as_of_day(dt.datetime.now(dt.UTC))


def overview(
    eng: Engine,
    as_of: dt.date | None = None,
    *,
    client_ids: Iterable[str] | None = None,
    horizon_days: int = HORIZON_DAYS,
) -> Overview:
    """Every client (or those in `client_ids`) with its stored counts, what falls due, last night and proof."""
    as_of = as_of or today()
    horizon = as_of + dt.timedelta(days=horizon_days)
    wanted = None if client_ids is None else set(client_ids)
    with _connect(eng) as conn:
        rows = _client_rows(conn, as_of, horizon, wanted, client_id=None)
        tracked = _has_table(conn, "subject_requests")
        requests = _open_requests(conn, as_of) if tracked else []
        nights = _nights(
            _run(
                conn,
                "dashboard_night_events",
                {"since": as_of - dt.timedelta(days=OVERVIEW_NIGHT_DAYS), "as_of": as_of},
            )
        )
    clients = tuple(
        _with_requests(
            row, requests, last_night=max(nights.get(row.client_id, []), key=lambda n: n.as_of, default=None)
        )
        for row in rows
    )
    return Overview(
        as_of=as_of,
        horizon=horizon,
        clients=clients,
        requests_tracked=tracked,
        requests_for_all_clients=tuple(r for r in requests if r.client_scope == "*"),
    )


def client_detail(
    eng: Engine, client_id: str, as_of: dt.date | None = None, *, horizon_days: int = HORIZON_DAYS
) -> ClientDetail | None:
    """One client's line plus its recent nights and the stored-versus-anonymised history; None if unknown."""
    as_of = as_of or today()
    horizon = as_of + dt.timedelta(days=horizon_days)
    with _connect(eng) as conn:
        rows = _client_rows(conn, as_of, horizon, None, client_id=client_id)
        if not rows:
            return None
        tracked = _has_table(conn, "subject_requests")
        requests = _open_requests(conn, as_of) if tracked else []
        since = as_of - dt.timedelta(days=max(DETAIL_NIGHT_DAYS, HISTORY_DAYS))
        events = _run(conn, "dashboard_client_night_events", {"client_id": client_id, "since": since, "as_of": as_of})
        nights = sorted(_nights(events).get(client_id, []), key=lambda n: n.as_of, reverse=True)
        stored = _run(conn, "dashboard_history", {"client_id": client_id})
    recent = tuple(n for n in nights if n.as_of >= as_of - dt.timedelta(days=DETAIL_NIGHT_DAYS))[:NIGHTS_SHOWN]
    row = _with_requests(rows[0], requests, last_night=recent[0] if recent else None)
    return ClientDetail(
        client=row,
        as_of=as_of,
        horizon=horizon,
        requests_tracked=tracked,
        nights=recent,
        history=tuple(_history(stored, nights, as_of)),
    )


def report_file(relative: str) -> Path | None:
    """The report file under KCM_HOME/reports named by `relative`, or None if absent or outside it."""
    base = settings.reports_dir().resolve()
    candidate = (base / relative).resolve()
    if base not in candidate.parents or candidate.suffix not in REPORT_SUFFIXES or not candidate.is_file():
        return None
    return candidate


# --- building blocks -----------------------------------------------------------------------


def _local_date(value: object) -> str | None:
    """SQLite function kcm_local_date: the Europe/Amsterdam day of a stored UTC timestamp."""
    if value is None:
        return None
    return terms.as_of_day(str(value)).isoformat()


@contextlib.contextmanager
def _connect(eng: Engine) -> Iterator[Connection]:
    with eng.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.connection.driver_connection.create_function("kcm_local_date", 1, _local_date, deterministic=True)
        yield conn


@functools.cache
def _statement(name: str, dialect: str) -> sa.TextClause:
    # Comment lines go: a `:name` in a comment would be taken for a parameter.
    lines = sql.statement(name, dialect).text.splitlines()
    clause = sa.text("\n".join(line for line in lines if not line.lstrip().startswith("--")))
    if ":client_ids" in clause.text:
        clause = clause.bindparams(sa.bindparam("client_ids", expanding=True))
    return clause


def _run(conn: Connection, name: str, params: Mapping[str, object]) -> list[sa.Row]:
    return conn.execute(_statement(name, conn.dialect.name), dict(params)).all()


def _has_table(conn: Connection, table: str) -> bool:
    return sa.inspect(conn).has_table(table)


def _day(value: object) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def _moment(value: object) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _client_rows(
    conn: Connection, as_of: dt.date, horizon: dt.date, wanted: set[str] | None, *, client_id: str | None
) -> list[ClientRow]:
    clients = [
        c
        for c in _run(conn, "dashboard_clients", {})
        if (client_id is None or c.client_id == client_id) and (wanted is None or c.client_id in wanted)
    ]
    if not clients:
        return []
    ids = {c.client_id for c in clients}
    stored: dict[str, Counter] = defaultdict(Counter)
    for row in _run(conn, "dashboard_stored", {"client_id": client_id}):
        if row.client_id in ids:
            stored[row.client_id][row.kind] = int(row.stored)
    due = _due_assignments(conn, as_of, horizon, ids, client_id)
    non_respondents = _due_non_respondents(conn, clients, as_of, horizon)
    proofs = {
        row.client_id: _proof(row)
        for row in _run(conn, "dashboard_last_proofs", {"as_of": as_of})
        if row.client_id in ids
    }
    return [
        ClientRow(
            client_id=c.client_id,
            name=c.name,
            country=c.country,
            retention_months=c.retention_months,
            non_respondent_months=c.non_respondent_months,
            destroyed_on=_day(c.destroyed_on),
            personal_respondents=stored[c.client_id]["personal"],
            anonymised_respondents=stored[c.client_id]["anonymised"],
            recordings=stored[c.client_id]["recordings"],
            due_assignments=tuple(due.get(c.client_id, ())),
            due_non_respondents=non_respondents.get(c.client_id, (0, 0))[0],
            overdue_non_respondents=non_respondents.get(c.client_id, (0, 0))[1],
            proof=proofs.get(c.client_id),
        )
        for c in clients
    ]


def _due_assignments(
    conn: Connection, as_of: dt.date, horizon: dt.date, ids: set[str], client_id: str | None
) -> dict[str, list[DueAssignment]]:
    """R2 and R4: per client, assignments due by the horizon, earliest first."""
    due: dict[str, list[DueAssignment]] = defaultdict(list)
    for row in _run(conn, "dashboard_due_assignments", {"horizon": horizon, "client_id": client_id}):
        if row.client_id not in ids:
            continue
        destruction = [d for d in (_day(row.destruction_requested_on), _day(row.client_destruction_requested_on)) if d]
        destruction_on = min(destruction) if destruction else None
        if destruction_on and destruction_on <= horizon:
            rule, due_on = "R4", destruction_on
        else:
            rule, due_on = "R2", _day(row.term_ends_on)
        due[row.client_id].append(
            DueAssignment(
                client_id=row.client_id,
                assignment_id=row.assignment_id,
                title=row.title,
                rule=rule,
                due_on=due_on,
                personal_respondents=int(row.personal_respondents),
                recordings=int(row.recordings),
                overdue=due_on <= as_of,
            )
        )
    for items in due.values():
        items.sort(key=lambda a: (a.due_on, a.assignment_id))
    return due


def _due_non_respondents(
    conn: Connection, clients: list[sa.Row], as_of: dt.date, horizon: dt.date
) -> dict[str, tuple[int, int]]:
    """R3: per client, (people due by the horizon, of whom due by as_of); one query per non-respondent term."""
    by_term: dict[int, list[str]] = defaultdict(list)
    for c in clients:
        by_term[int(c.non_respondent_months)].append(c.client_id)
    counts: dict[str, tuple[int, int]] = {}
    for months, client_ids in sorted(by_term.items()):
        params = {
            "client_ids": client_ids,
            "cutoff": terms.non_respondent_cutoff(horizon, months),
            "cutoff_now": terms.non_respondent_cutoff(as_of, months),
        }
        for row in _run(conn, "dashboard_due_non_respondents", params):
            counts[row.client_id] = (int(row.due), int(row.overdue or 0))
    return counts


def _counts(raw: object) -> dict:
    try:
        counts = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return counts if isinstance(counts, dict) else {}


def _number(value: object) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _nights(events: Iterable[sa.Row]) -> dict[str, list[Night]]:
    """Audit events (R12) summed per client and as-of night."""
    sums: dict[tuple[str, dt.date], Counter] = defaultdict(Counter)
    runs: dict[tuple[str, dt.date], set[str]] = defaultdict(set)
    for event in events:
        key = (event.client_id, _day(event.as_of))
        counts = _counts(event.counts)
        rows = counts.get("rows") if isinstance(counts.get("rows"), dict) else {}
        files = counts.get("files") if isinstance(counts.get("files"), dict) else {}
        if event.run_id:
            runs[key].add(event.run_id)
        total = sums[key]
        respondents = _number(rows.get("respondents"))
        if event.rule == "R2" and event.action == "respondents_anonymised":
            total["anonymised"] += respondents
        elif event.rule == "R2" and event.action == "assignment_anonymised":
            total["assignments_anonymised"] += 1
        elif event.rule == "R3":
            total["non_respondents_deleted"] += respondents
        elif event.rule == "R4":
            total["destroyed"] += respondents
        elif event.rule in _DELETING_RULES:
            total["erased"] += respondents
        total["recordings_deleted"] += _number(rows.get("recordings"))
        if event.rule == "R10":
            total["files_purged"] += sum(_number(v) for v in files.values())
    nights: dict[str, list[Night]] = defaultdict(list)
    for (client_id, as_of), total in sums.items():
        nights[client_id].append(Night(as_of=as_of, runs=len(runs[(client_id, as_of)]), **total))
    return nights


def _proof(row: sa.Row) -> Proof:
    """R11: the newest proof event, and the report it names (or the one written for its night)."""
    counts = _counts(row.counts)
    passed = row.action == "proof_passed"
    failed = counts.get("failed")
    as_of = _day(row.as_of)
    return Proof(
        as_of=as_of,
        passed=passed,
        recorded_at=_moment(row.recorded_at),
        run_id=row.run_id,
        failed_checks=len(failed) if isinstance(failed, list) else _number(failed) if failed is not None else None,
        report=_report_of(counts, row.client_id, as_of),
    )


def _report_of(counts: Mapping[str, object], client_id: str, as_of: dt.date | None) -> str | None:
    """The auditor report of a proof: the path its event names, else the one include.reports writes for its night."""
    from include import reports

    base = settings.reports_dir().resolve()
    named = [counts[key] for key in ("report_html", "report") if isinstance(counts.get(key), str) and counts[key]]
    if as_of is not None:
        named.append(str(reports.nightly_paths(client_id, as_of)["html"]))
    for value in named:
        path = Path(value) if Path(value).is_absolute() else base / value
        with contextlib.suppress(ValueError):
            relative = path.resolve().relative_to(base).as_posix()
            if report_file(relative):
                return relative
    return None


def _open_requests(conn: Connection, as_of: dt.date) -> list[SubjectRequest]:
    return [
        SubjectRequest(
            request_id=row.request_id,
            request_type=row.request_type,
            client_scope=row.client_scope,
            received_on=_day(row.received_on),
            due_on=_day(row.due_on),
            overdue=_day(row.due_on) < as_of,
        )
        for row in _run(conn, "dashboard_open_requests", {})
    ]


def _with_requests(row: ClientRow, requests: list[SubjectRequest], *, last_night: Night | None) -> ClientRow:
    mine = tuple(r for r in requests if r.client_scope in (row.client_id, "*"))
    return dataclasses.replace(row, open_requests=mine, last_night=last_night)


def _history(stored: Iterable[sa.Row], nights: Iterable[Night], as_of: dt.date) -> Iterator[HistoryPoint]:
    """Per day: respondents loaded and not yet anonymised, anonymised, and deleted since the chart's start."""
    groups = [(_day(r.loaded_on), _day(r.anonymised_on), int(r.respondents)) for r in stored]
    first_load = min((loaded for loaded, _, _ in groups if loaded), default=as_of)
    start = max(first_load, as_of - dt.timedelta(days=HISTORY_DAYS))
    days = (as_of - start).days + 1
    # Day-indexed changes, then running sums: linear in days plus groups.
    personal_delta = [0] * (days + 1)
    anonymised_delta = [0] * (days + 1)
    deleted_delta = [0] * (days + 1)

    def index(day: dt.date) -> int:
        return min(max((day - start).days, 0), days)

    for loaded, anonymised, count in groups:
        personal_delta[index(loaded or start)] += count
        if anonymised:
            personal_delta[index(anonymised)] -= count
            anonymised_delta[index(anonymised)] += count
    for night in nights:
        if start <= night.as_of <= as_of:
            deleted_delta[index(night.as_of)] += night.deleted
    personal = anonymised = deleted = 0
    for offset in range(days):
        personal += personal_delta[offset]
        anonymised += anonymised_delta[offset]
        deleted += deleted_delta[offset]
        yield HistoryPoint(start + dt.timedelta(days=offset), personal, anonymised, deleted)
