"""R11 proof: the last task of every night proves, for its as-of day, that nothing outlived its term.

Every check is a count: a set-based SQL COUNT over the warehouse (on the indexes of what is
due, statements in include/sql/r11_*.sql) or a walk of a file store. The checks are generated
from the data map (R8) and the client config, never from a list of our own. The counts, one
per check, go through a real Great Expectations checkpoint on a file context under
KCM_HOME/reports/gx/<client_id>/ that expects each to be 0 and writes Data Docs. The evidence
(auditor report as HTML and JSON, the GX validation result, Data Docs) is written and an audit
event appended (R12) before the run passes or fails.

Only counts leave this module: no value from a delivery reaches a check, a log line, the
evidence, XCom or an exception.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import logging
import os
import re
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include import audit, data_map, settings, sql, terms
from include.config import ClientConfig

log = logging.getLogger(__name__)

# Tables whose rows belong to one assignment of one client: R2 and R4 apply per row.
ASSIGNMENT_KEYS = frozenset({"client_id", "assignment_id"})
# A table whose rows stand for files of a kind in the data map: past term, the row must be gone.
FILE_ROWS = {"recordings": "recording"}
# Treatments whose column must be empty at term; `day` and `month` have checks of their own.
_EMPTY_AT_TERM = frozenset({"remove", "age_band", "region"})
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
# A WAV waits LANDING_WAV_GRACE_DAYS for its manifest (include.ingest.recordings); the ingest
# run that sweeps it to quarantine may come the day after the night that sees it overdue.
_SWEEP_DAYS = 1


class ProofFailed(RuntimeError):
    """A failed expectation of the nightly proof; the message names rule, table or store and count."""

    def __init__(self, message: str, summary: dict) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class Check:
    """One expectation of the proof: a count that must be 0, or not applicable (observed None)."""

    check_id: str
    rule: str
    table_or_store: str
    description: str
    observed: int | None
    note: str = ""

    @property
    def applicable(self) -> bool:
        return self.observed is not None

    @property
    def passed(self) -> bool:
        return self.observed is None or self.observed == 0

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


# --- statements --------------------------------------------------------------------------


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"data map: {name!r} is not a plain table or column name")
    return name


@functools.cache
def _sql(name: str, dialect: str, **parts: str) -> str:
    """A statement's text without its comment lines, with generated identifier lists filled in."""
    lines = [line for line in sql.statement(name, dialect).text.splitlines() if not line.lstrip().startswith("--")]
    text = "\n".join(lines).strip()
    return text.format(**parts) if parts else text


def _clause(text: str, expanding: Iterable[str] = ()) -> sa.TextClause:
    clause = sa.text(text)
    present = [p for p in expanding if f":{p}" in text]
    return clause.bindparams(*(sa.bindparam(p, expanding=True) for p in present)) if present else clause


def _count(conn: Connection, name: str, params: dict, **parts: str) -> int:
    return int(conn.execute(_clause(_sql(name, conn.dialect.name, **parts)), params).scalar() or 0)


def _day(value: object) -> dt.date | None:
    """A date from the warehouse (SQLite hands back text)."""
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


# --- the data map decides (R8) -----------------------------------------------------------


def assignment_tables(mapping: data_map.DataMap | None = None) -> list[str]:
    """Tables of the data map with personal columns whose rows belong to one assignment of one client."""
    mapping = mapping or data_map.load()
    return [
        table
        for table in mapping.tables()
        if ASSIGNMENT_KEYS <= {c.column for c in mapping.table(table)} and any(c.personal for c in mapping.table(table))
    ]


@dataclass(frozen=True)
class ColumnCheck:
    """What the data map demands of one column at term, as a SQL condition that marks a violation."""

    table: str
    column: str
    rule: str
    fragment: str
    description: str


def column_checks(table: str, open_text: str, mapping: data_map.DataMap | None = None) -> list[ColumnCheck]:
    """R2/R9: one check per column of `table` whose value the data map changes at term."""
    mapping = mapping or data_map.load()
    checks: list[ColumnCheck] = []
    for entry in mapping.table(table):
        column = _identifier(entry.column)
        if entry.category == "derived":
            if column not in ("age_band", "region"):
                raise ValueError(
                    f"data map: the proof cannot check derived column {table}.{column}; extend r11_violates_*"
                )
            checks.append(ColumnCheck(table, column, "R9", f"r11_violates_{column}", "values that are not generalised"))
        elif not entry.personal or entry.treatment == "keep":
            continue
        elif entry.treatment in _EMPTY_AT_TERM:
            checks.append(ColumnCheck(table, column, "R2", "r11_violates_kept", f"values left ({entry.treatment})"))
        elif entry.treatment in ("day", "month"):
            checks.append(
                ColumnCheck(
                    table, column, "R2", f"r11_violates_{entry.treatment}", f"values not reduced to a {entry.treatment}"
                )
            )
        elif entry.treatment == "scrub_text":
            # Scrubbed text is checked for identifier patterns (open_text_identifiers); dropped text must be gone.
            if open_text == "drop":
                checks.append(ColumnCheck(table, column, "R2", "r11_violates_kept", "open text left (client drops it)"))
        else:
            raise ValueError(f"data map: treatment {entry.treatment!r} of {table}.{column} cannot apply to a column")
    return checks


@functools.cache
def _past_term_statement(table: str, dialect: str, open_text: str) -> tuple[str, tuple[ColumnCheck, ...]]:
    checks = tuple(column_checks(table, open_text))
    counts = [
        f"COALESCE(sum(CASE WHEN {_sql(c.fragment, dialect, column=c.column)} THEN 1 ELSE 0 END), 0) AS c{i}"
        for i, c in enumerate(checks)
    ] or ["0 AS nothing"]
    return _sql("r11_r2_past_term_columns", dialect, table=_identifier(table), counts=",\n       ".join(counts)), checks


def _age_bands() -> list[str]:
    from include.anonymisers.dates import AGE_BANDS

    return sorted({band.label for level in AGE_BANDS.values() for band in level})


# --- the checks ----------------------------------------------------------------------------


def observe(eng: Engine, client: ClientConfig, as_of: dt.date) -> list[Check]:
    """Every check of the proof with its observed count, for one client and as-of day (no GX)."""
    return _observe(eng, client, as_of)[0]


def _observe(
    eng: Engine, client: ClientConfig, as_of: dt.date
) -> tuple[list[Check], audit.ChainReport, dict[str, float]]:
    """The checks, the audit chain's report, and the seconds each group of checks took."""
    client_id = client.client_id
    checks: list[Check] = []
    seconds: dict[str, float] = {}

    def timed(name: str, group) -> None:
        started = time.perf_counter()
        result = group()
        checks.extend(result if isinstance(result, list) else [result])
        seconds[name] = round(time.perf_counter() - started, 3)

    with eng.connect() as conn:
        whole_client = bool(
            conn.execute(
                sa.text(_sql("r11_r4_client_due", conn.dialect.name)), {"client_id": client_id, "as_of": as_of}
            ).scalar()
        )
        timed("config", lambda: _config(conn, client))
        timed("past_term", lambda: _past_term(conn, client, as_of))
        timed("non_respondents", lambda: _non_respondents(conn, client, as_of))
        timed("destroyed", lambda: _destroyed(conn, client, as_of, whole_client))
        timed("k_anonymity", lambda: _k_anonymity(conn, client))
        timed("open_text", lambda: _open_text(conn, client, as_of))
        timed("recordings_store", lambda: _recordings_store(conn, client_id))
        timed("landing", lambda: _landing(conn, client_id, as_of))
        timed("quarantine", lambda: _quarantine(conn, client_id, as_of))
        timed("exports", lambda: _exports(as_of))
        timed("subject_requests", lambda: _check_subject_requests(conn, client, as_of))
    started = time.perf_counter()
    chain = audit.verify(eng)
    checks.append(
        Check(
            "R12 audit_events.chain",
            "R12",
            "audit_events",
            f"broken links in the audit trail's hash chain ({chain.events} events verified)",
            len(chain.problems),
        )
    )
    seconds["audit_chain"] = round(time.perf_counter() - started, 3)
    return checks, chain, seconds


def _config(conn: Connection, client: ClientConfig) -> list[Check]:
    """The warehouse holds the terms and destruction dates of the config the night ran with (R2, R4)."""
    rows = conn.execute(sa.text(_sql("r11_assignments", conn.dialect.name)), {"client_id": client.client_id}).all()
    held = {r.assignment_id: r for r in rows if r.assignment_id is not None}
    terms_differ = destruction_differs = 0
    for assignment in client.assignments:
        row = held.get(assignment.id)
        term = terms.term_ends_on(assignment.completed_on, client.retention_months)
        terms_differ += row is None or _day(row.term_ends_on) != term
        destruction_differs += row is None or _day(row.destruction_requested_on) != assignment.destruction_requested_on
    destruction_differs += not rows or _day(rows[0].client_destruction_requested_on) != client.destruction_requested_on
    return [
        Check(
            "R2 assignments.term_ends_on",
            "R2",
            "assignments",
            "assignments whose term in the warehouse differs from the client config",
            terms_differ,
        ),
        Check(
            "R4 assignments.destruction_requested_on",
            "R4",
            "assignments",
            "assignments (or the client) whose destruction date differs from the client config",
            destruction_differs,
        ),
    ]


def _past_term(conn: Connection, client: ClientConfig, as_of: dt.date) -> list[Check]:
    """R2: nothing personal is left in the rows of assignments whose term ended on or before as_of."""
    mapping = data_map.load()
    params = {
        "client_id": client.client_id,
        "as_of": as_of,
        "country": client.country,
        "region_pattern": f"{client.country}-__",
        "age_bands": _age_bands(),
    }
    checks = [
        Check(
            "R2 assignments.status",
            "R2",
            "assignments",
            "assignments past term neither anonymised nor destroyed",
            _count(conn, "r11_r2_assignments_open", params),
        ),
        Check(
            "R2 respondents.anonymised_on",
            "R2",
            "respondents",
            "respondents of assignments past term not anonymised",
            _count(conn, "r11_r2_not_anonymised", params),
        ),
    ]
    for table in assignment_tables(mapping):
        text, columns = _past_term_statement(table, conn.dialect.name, client.open_text)
        row = conn.execute(_clause(text, ("age_bands",)), params).one()
        if table in FILE_ROWS:
            kind = next(f for f in mapping.files if f.kind == FILE_ROWS[table])
            if kind.treatment == "delete_file":
                checks.append(
                    Check(
                        f"R2 {table}.rows",
                        "R2",
                        table,
                        f"{table} of assignments past term (a {kind.kind} is deleted at term)",
                        int(row.past_term_rows),
                    )
                )
        for i, column in enumerate(columns):
            checks.append(
                Check(
                    f"{column.rule} {table}.{column.column}",
                    column.rule,
                    table,
                    f"rows of assignments past term with {column.description}",
                    int(row[i + 1]),
                )
            )
    return checks


def _non_respondents(conn: Connection, client: ClientConfig, as_of: dt.date) -> Check:
    cutoff = terms.non_respondent_cutoff(as_of, client.non_respondent_months)
    return Check(
        "R3 respondents.non_respondents",
        "R3",
        "respondents",
        f"people who never answered, invited on or before {cutoff.isoformat()}",
        _count(conn, "r11_r3_non_respondents", {"client_id": client.client_id, "cutoff": cutoff}),
    )


def _destroyed(conn: Connection, client: ClientConfig, as_of: dt.date, whole_client: bool) -> list[Check]:
    """R4: destroyed assignments (or a destroyed client) hold no rows and no files."""
    params = {"client_id": client.client_id, "as_of": as_of}
    scope = "of the client (destroyed)" if whole_client else "of destroyed assignments"
    statement = "r11_r4_client_rows" if whole_client else "r11_r4_rows"
    checks = [
        Check(
            f"R4 {table}.rows",
            "R4",
            table,
            f"{table} {scope}",
            _count(conn, statement, params, table=_identifier(table)),
        )
        for table in assignment_tables()
    ]
    if whole_client:
        checks.append(
            Check(
                "R4 quarantine_records.open",
                "R4",
                "quarantine_records",
                "quarantined items of the destroyed client not purged",
                _count(conn, "r11_r4_quarantine_open", params),
            )
        )
        from include import recordings_store, storage

        remote_landing = storage.landing(client.client_id)
        for store, count in (
            ("landing", sum(1 for _ in _files(settings.landing_dir(client.client_id)))
             + (len(remote_landing.files()) if remote_landing else 0)),
            ("recordings", len(recordings_store.files(client.client_id))),
            ("quarantine", sum(1 for _ in _files(settings.quarantine_dir(client.client_id)))),
        ):  # fmt: skip
            checks.append(
                Check(f"R4 {store} store.files", "R4", f"{store} store", "files of the destroyed client", count)
            )
    return checks


def _k_anonymity(conn: Connection, client: ClientConfig) -> Check:
    """R9: every class of the client's anonymised respondents over the quasi-identifiers has k members."""
    qis = [_identifier(c) for c in data_map.load().quasi_identifiers("respondents")]
    observed = None
    if qis:
        row = conn.execute(
            sa.text(
                _sql(
                    "r11_k_small_classes",
                    conn.dialect.name,
                    classes=", ".join(f"COALESCE({c}, '')" for c in qis),
                    all_withheld=" AND ".join(f"COALESCE({c}, '') = '*'" for c in qis),
                )
            ),
            {"client_id": client.client_id, "k": client.k_anonymity},
        ).one()
        observed = int(row.respondents)
    return Check(
        "R9 respondents.k_anonymity",
        "R9",
        "respondents",
        f"anonymised respondents in classes of fewer than k={client.k_anonymity} over "
        f"{', '.join(qis) or 'no quasi-identifiers'}",
        observed,
        "" if qis else "not applicable: the data map names no quasi-identifiers",
    )


def _open_text(conn: Connection, client: ClientConfig, as_of: dt.date) -> list[Check]:
    """R9: anonymised open text matches none of the identifier patterns (kinds counted, never values)."""
    from include.anonymisers.text import find_identifiers

    checks = []
    for table in assignment_tables():
        for column in data_map.load().with_treatment(table, "scrub_text"):
            if table != "responses":
                raise ValueError(f"data map: the proof checks open text in responses only, not {table}.{column}")
            statement = sa.text(_sql("r11_open_text_candidates", conn.dialect.name, column=_identifier(column)))
            found = 0
            # Not streamed: a server-side cursor would keep PostgreSQL from scanning in parallel, and
            # the pre-selection leaves few rows (many only when the proof is failing anyway).
            rows = conn.execute(statement, {"client_id": client.client_id, "as_of": as_of})
            for row in rows:
                found += bool(find_identifiers(row.text))
            checks.append(
                Check(
                    f"R9 {table}.{column}.identifiers",
                    "R9",
                    table,
                    "anonymised open answers matching an e-mail, phone, IBAN, BSN or postcode pattern",
                    found,
                )
            )
    return checks


# --- file stores (R10) -----------------------------------------------------------------------


def _files(folder: Path) -> Iterator[Path]:
    """Every file (or link) below a folder, never following links."""
    if not folder.is_dir():
        return
    for root, dirs, names in os.walk(folder):  # os.walk lists a linked folder without entering it
        for name in [*names, *(d for d in dirs if os.path.islink(os.path.join(root, d)))]:
            yield Path(root, name)


def _recordings_store(conn: Connection, client_id: str) -> list[Check]:
    """R10: the recordings store and the recordings rows name the same files, and no deletion is left half-done."""
    from include import recordings_store

    rows = conn.execute(sa.text(_sql("r11_recordings", conn.dialect.name)), {"client_id": client_id}).all()
    on_disk = set(recordings_store.files(client_id))
    named = {r.stored_path for r in rows}
    stored = {r.stored_path for r in rows if r.state == "stored"}
    return [
        Check(
            "R10 recordings store.orphan_files",
            "R10",
            "recordings store",
            "files in the recordings store without a recordings row",
            len(on_disk - named),
        ),
        Check(
            "R10 recordings.missing_files",
            "R10",
            "recordings",
            "recordings rows whose file is missing from the store",
            len(stored - on_disk),
        ),
        Check(
            "R10 recordings.left_deleting",
            "R10",
            "recordings",
            "recordings marked for deletion and not deleted",
            sum(r.state == "deleting" for r in rows),
        ),
        Check(
            "R10 recordings.without_respondent",
            "R10",
            "recordings",
            "recordings whose respondent is no longer held",
            _count(conn, "r11_recordings_without_respondent", {"client_id": client_id}),
        ),
    ]


def _landing(conn: Connection, client_id: str, as_of: dt.date) -> list[Check]:
    """R10: raw deliveries leave the landing zone once handled; a WAV waits a week at most for its manifest."""
    from include import storage
    from include.ingest import landing
    from include.ingest.recordings import LANDING_WAV_GRACE_DAYS

    folder = settings.landing_dir(client_id)
    entries = []
    if folder.is_dir():
        entries = [e for e in os.scandir(folder) if not e.name.startswith(".") and e.is_file(follow_symlinks=False)]
    known: dict[tuple[str, int], set[str]] = {}
    statement = _clause(_sql("r11_landing_deliveries", conn.dialect.name), ("names",))
    names = sorted(e.name for e in entries)
    for start in range(0, len(names), 500):
        for row in conn.execute(statement, {"client_id": client_id, "names": names[start : start + 500]}):
            known.setdefault((row.file_name, int(row.size_bytes)), set()).add(row.sha256)
    handled = waiting = 0
    for entry in entries:
        shas = known.get((entry.name, entry.stat(follow_symlinks=False).st_size))
        if shas and landing.sha256_of(Path(entry.path)) in shas:
            handled += 1
        if entry.name.lower().endswith(".wav"):
            waiting += (as_of - terms.arrived_on(Path(entry.path))).days > LANDING_WAV_GRACE_DAYS + _SWEEP_DAYS
    checks = [
        Check(
            "R10 landing store.handled_files",
            "R10",
            "landing store",
            "delivery files already loaded, quarantined or found duplicate, still in the landing zone",
            handled,
        ),
        Check(
            "R10 landing store.waiting_wavs",
            "R10",
            "landing store",
            f"WAVs waiting more than {LANDING_WAV_GRACE_DAYS} days (+1 for the sweep) for a manifest",
            waiting,
        ),
    ]
    remote = storage.landing(client_id)
    if remote is not None:  # the ingest collects deliveries from object storage into the landing folder
        uncollected = sum(
            (as_of - f.modified.astimezone(terms.AMSTERDAM).date()).days > LANDING_WAV_GRACE_DAYS + _SWEEP_DAYS
            for f in remote.files()
        )
        checks.append(
            Check(
                "R10 landing store.uncollected_objects",
                "R10",
                "landing store",
                f"deliveries left in {remote} more than {LANDING_WAV_GRACE_DAYS} days (+1) uncollected",
                uncollected,
            )
        )
    return checks


def _quarantine(conn: Connection, client_id: str, as_of: dt.date) -> list[Check]:
    """R10: quarantined items go at their term; every quarantine file has a live record and every record its file."""
    from include.quarantine import QUARANTINE_DAYS

    params = {"client_id": client_id, "as_of": as_of}
    records = conn.execute(sa.text(_sql("r11_quarantine_records", conn.dialect.name)), params).all()
    live = {r.path for r in records if not r.purged}
    purged = {r.path for r in records if r.purged} - live
    past_term = 0
    folder = settings.quarantine_dir(client_id)
    if folder.is_dir():
        for entry in sorted(folder.iterdir()):
            name = f"{client_id}/{entry.name}"
            owner = name.removesuffix(".reason.json")
            if name in live or owner in live:
                continue
            files = sum(1 for _ in _files(entry)) if entry.is_dir() and not entry.is_symlink() else 1
            if name in purged or owner in purged or (as_of - terms.written_on(entry)).days >= QUARANTINE_DAYS:
                past_term += files
    root = settings.kcm_home() / "quarantine"
    missing = sum(1 for path in live if not (root / path).exists() and not (root / path).is_symlink())
    return [
        Check(
            "R10 quarantine_records.past_term",
            "R10",
            "quarantine_records",
            "quarantined items past their purge day not purged",
            _count(conn, "r11_quarantine_due", params),
        ),
        Check(
            "R10 quarantine_records.missing_files",
            "R10",
            "quarantine_records",
            "quarantine records whose file is missing",
            missing,
        ),
        Check(
            "R10 quarantine store.files_past_term",
            "R10",
            "quarantine store",
            f"quarantine files of purged items, or without a record for {QUARANTINE_DAYS} days or more",
            past_term,
        ),
    ]


def _exports(as_of: dt.date) -> Check:
    """R10: subject-request exports live EXPORT_DAYS after they were written."""
    from include.retention import EXPORT_DAYS

    folder = settings.exports_dir()
    past_term = 0
    if folder.is_dir():
        for entry in folder.iterdir():
            with contextlib.suppress(FileNotFoundError):  # another client's night purged it meanwhile
                past_term += (as_of - terms.written_on(entry)).days >= EXPORT_DAYS
    return Check(
        "R10 exports store.past_term",
        "R10",
        "exports store",
        f"subject-request exports written {EXPORT_DAYS} days or more before the as-of day",
        past_term,
    )


# --- data-subject requests (R6, R7) ------------------------------------------------------


def _check_subject_requests(conn: Connection, client: ClientConfig, as_of: dt.date) -> list[Check]:
    """R6/R7: erased and objecting subjects are absent: none of their keyed hashes matches a row we hold.

    The matching is include.subject_requests.erased_still_present (it owns the keyed hashes):
    one query for a client nobody asked about; otherwise the client's rows not anonymised
    are hashed (anonymised rows hold no identifiers, which the R2 checks prove).
    """
    checks = {
        "erased_present": ("R6", "respondents loaded before an erasure that matches them (R6)"),
        "suppressed_present": ("R7", "respondents on the suppression list of an objection (R7)"),
    }
    if "subject_requests" not in sa.inspect(conn).get_table_names():
        return [
            Check(f"{rule} respondents.{key}", rule, "respondents", description, None,
                  "not applicable: no subject_requests table")
            for key, (rule, description) in checks.items()
        ]  # fmt: skip
    from include import subject_requests, suppression

    try:
        present = subject_requests.erased_still_present(conn.engine, client.client_id)
        note = ""
    except suppression.SecretMissing as exc:
        # Not checkable is not proven: the expectation fails and says why.
        present, note = dict.fromkeys(checks, 1), f"could not be checked: {exc}"
    return [
        Check(f"{rule} respondents.{key}", rule, "respondents", description, int(present[key]), note)
        for key, (rule, description) in checks.items()
    ]


# --- Great Expectations --------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time in a client's GX file context (a retried task may overlap a slow one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def gx_root(client_id: str) -> Path:
    """The client's GX file context (its Data Docs: gx/uncommitted/data_docs/local_site/)."""
    return settings.reports_dir() / "gx" / client_id


def validate(client_id: str, checks: list[Check], run_id: str) -> tuple[dict, Path]:
    """Run the checks' counts through a GX checkpoint that expects each to be 0; return the result and its Data Docs page."""
    # GX narrates its imports and every store it saves at INFO: noise in the task log.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    applicable = [c for c in checks if c.applicable]
    frame = pd.DataFrame([{c.check_id: int(c.observed) for c in applicable}])
    name = f"{client_id}_nightly_proof"
    root = gx_root(client_id)
    with _locked(root / ".lock"):
        context = gx.get_context(mode="file", project_root_dir=str(root))
        # tqdm bars would fill the task log with noise.
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.save()
        source = _get_or_add(
            lambda: context.data_sources.get("kcm_proof"), lambda: context.data_sources.add_pandas("kcm_proof")
        )
        asset = _get_or_add(lambda: source.get_asset(client_id), lambda: source.add_dataframe_asset(client_id))
        batch = _get_or_add(
            lambda: asset.get_batch_definition("night"), lambda: asset.add_batch_definition_whole_dataframe("night")
        )
        # The suite follows tonight's data map and config: rebuilt on every run.
        for store in (context.checkpoints, context.validation_definitions, context.suites):
            with contextlib.suppress(Exception):
                store.delete(name)
        # Built whole, then saved once: a file context writes the suite on every add_expectation.
        suite = context.suites.add(
            gx.ExpectationSuite(
                name=name,
                meta={"rule": "R11", "client_id": client_id},
                expectations=[
                    gxe.ExpectColumnMaxToBeBetween(
                        column=check.check_id,
                        min_value=0,
                        max_value=0,
                        meta={"rule": check.rule, "table_or_store": check.table_or_store, "counts": check.description},
                    )
                    for check in applicable
                ],
            )
        )
        definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=name,
                validation_definitions=[definition],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
                result_format={"result_format": "BASIC"},
            )
        )
        outcome = checkpoint.run(
            batch_parameters={"dataframe": frame},
            run_id=RunIdentifier(run_name=re.sub(r"[^A-Za-z0-9_.+-]", "_", run_id), run_time=dt.datetime.now(dt.UTC)),
        )
        identifier, result = next(iter(outcome.run_results.items()))
        urls = context.get_docs_sites_urls(resource_identifier=identifier)
        page = (
            urls[0]["site_url"] if urls else (root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html")
        )
    return result.to_json_dict(), Path(urllib.parse.unquote(urllib.parse.urlparse(str(page)).path))


def _get_or_add(get, add):
    try:
        return get()
    except Exception:  # noqa: BLE001 - GX raises a different error per store for "not there yet"
        return add()


# --- the proof -------------------------------------------------------------------------------------


def prove(eng: Engine, client: ClientConfig, as_of: dt.date, run_id: str) -> dict:
    """R11: prove nothing outlived its term on as_of; write the evidence, audit it, raise ProofFailed on any failure."""
    from include import reports

    checks, chain, seconds = _observe(eng, client, as_of)
    started = time.perf_counter()
    validation, data_docs = validate(client.client_id, checks, run_id)
    seconds["great_expectations"] = round(time.perf_counter() - started, 3)
    gx_failed = {r["expectation_config"]["kwargs"]["column"] for r in validation["results"] if not r["success"]}
    failed = [c for c in checks if not c.passed or c.check_id in gx_failed]
    applicable = [c for c in checks if c.applicable]
    event_hash = audit.append(
        eng,
        rule="R11",
        action="proof_failed" if failed else "proof_passed",
        client_id=client.client_id,
        as_of=as_of,
        run_id=run_id,
        counts={
            "expectations": len(applicable),
            "failed": len(failed),
            "not_applicable": len(checks) - len(applicable),
            "failed_checks": {c.check_id: c.observed for c in failed},
        },
    )
    paths = reports.write_nightly(
        eng,
        client,
        as_of,
        run_id=run_id,
        checks=checks,
        failed=failed,
        validation=validation,
        data_docs=data_docs,
        chain=chain,
        proof_event_hash=event_hash,
        seconds=seconds,
    )
    summary = {
        "passed": not failed,
        "expectations": len(applicable),
        "failed": [
            {"check": c.check_id, "rule": c.rule, "table_or_store": c.table_or_store, "count": c.observed}
            for c in failed
        ],
        "report_html": str(paths["html"]),
        "report_json": str(paths["json"]),
        "data_docs": str(data_docs),
    }
    log.info("%s: R11 proof of %s: %d expectations, %d failed", client.client_id, as_of, len(applicable), len(failed))
    log.info("proof seconds: %s", ", ".join(f"{name} {value:.2f}" for name, value in seconds.items()))
    log.info(
        "evidence: report %s, %s; GX validation %s; Data Docs %s",
        paths["html"],
        paths["json"],
        paths["validation"],
        data_docs,
    )
    for check in checks:
        if not check.applicable:
            log.info("%s: %s", check.check_id, check.note)
        elif check in failed:
            log.error("%s failed: %s: %d (%s)", client.client_id, check.check_id, check.observed, check.description)
    if failed:
        detail = "; ".join(f"{c.check_id}: {c.observed} ({c.description})" for c in failed)
        raise ProofFailed(
            f"R11 proof failed for client {client.client_id} on {as_of.isoformat()}: {len(failed)} of "
            f"{len(applicable)} expectations failed: {detail}. Evidence: {paths['html']}",
            summary,
        )
    return summary
