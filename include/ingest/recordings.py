"""Call recordings ingest (design §4): a manifest checked against its WAV files, stored, linked.

A manifest `recordings*.csv` in landing/<client_id>/ names WAV files in the same
folder, each with its assignment, respondent, recording time and SHA-256. Good rows
are stored in the recordings store under a content address (no name in the path)
and linked to their respondent; bad rows and their WAVs go to quarantine with a
reason code; records of people who objected (R7) are dropped, counted, and their
WAVs deleted; the raw files leave the landing zone (R10).

WAV file names and respondent refs are personal data: logs, results, errors and
reason files name the manifest, record numbers, columns and reason codes only.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import logging
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include import audit, quarantine, recordings_store, settings, sql, suppression, terms
from include.config import ClientConfig
from include.ingest import deliveries, landing, wav

log = logging.getLogger(__name__)

FILE_KIND = "recordings"
MANIFEST_COLUMNS = ("file_name", "assignment_id", "respondent_ref", "recorded_at", "sha256")
LANDING_WAV_GRACE_DAYS = 7
AMSTERDAM = ZoneInfo(settings.AMSTERDAM)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BATCH = 500


class RecordingsError(RuntimeError):
    """The ingest could not finish; the message names the manifest and record, never a value."""


class _ManifestProblem(Exception):
    """The manifest cannot be read as a whole (a quarantine reason code and what is wrong)."""

    def __init__(self, code: str, problem: str) -> None:
        super().__init__(problem)
        self.code = code
        self.problem = problem


@dataclass
class _Row:
    """One manifest record on its way through the checks."""

    record: int
    cells: list[str]
    values: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    path: Path | None = None  # the named WAV, when it is a regular file inside landing
    owns_file: bool = False  # first record naming its file: it decides what happens to it
    content_sha: str | None = None
    info: wav.WavInfo | None = None
    size_bytes: int = 0
    recorded_at: dt.datetime | None = None
    respondent_id: int | None = None
    suppressed: bool = False  # R7: the person objected; neither stored nor quarantined

    @property
    def sha256(self) -> str:
        return self.values.get("sha256", "").lower()

    def reject(self, column: str, code: str) -> None:
        self.problems.append((column, code))


@contextlib.contextmanager
def _plain_errors(doing: str) -> Iterator[None]:
    """Re-raise file and warehouse errors without their text: both quote file names or statement values."""
    try:
        yield
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        raise RecordingsError(f"{doing} failed ({_describe(exc)})") from None


def _describe(exc: BaseException) -> str:
    """The kind of an OS or database error, never its message."""
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlite_errorname", None)
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__


# --- the manifest as a CSV -------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    """The manifest's header as delivered, and where each contract column sits in it."""

    cells: list[str]
    positions: dict[str, int]
    unknown: int


def _read_manifest(raw: bytes) -> tuple[_Header, list[_Row]]:
    """Header and records of a manifest: UTF-8 (BOM allowed), ',' or ';'; record 1 is the first under the header."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _ManifestProblem(
            "encoding", f"not valid UTF-8 at byte {exc.start}; export the manifest as UTF-8 ('CSV UTF-8' in Excel)"
        ) from None
    if not text.strip():
        raise _ManifestProblem("empty", "the file holds no text: a header and at least one record are required")
    if "\x00" in text:
        raise _ManifestProblem("not_csv", "the file holds binary data (NUL bytes): it is not a CSV text file")
    first_line = text.splitlines()[0]
    if not first_line.strip():
        raise _ManifestProblem("no_header", "the first line is blank; the header must be the first line")
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[_Row] = []
    try:
        header = _match_header(next(reader))
        for cells in reader:
            if cells:  # a blank line is no record
                rows.append(_Row(record=len(rows) + 1, cells=cells))
    except csv.Error as exc:
        # csv's messages describe the structure ('unexpected end of data'), never the content.
        raise _ManifestProblem("not_csv", f"record {len(rows) + 1} cannot be read as CSV: {exc}") from None
    if not rows:
        raise _ManifestProblem("empty", "the manifest has a header but no records")
    return header, rows


def _match_header(cells: list[str]) -> _Header:
    """Find the contract columns; other columns are counted and ignored, never echoed."""
    names = [re.sub(r"\s+", " ", cell.strip().lower()) for cell in cells]
    counts = Counter(names)
    repeated = [name for name in MANIFEST_COLUMNS if counts[name] > 1]
    if repeated:
        raise _ManifestProblem("duplicate_columns", f"column(s) named twice in the header: {', '.join(repeated)}")
    missing = [name for name in MANIFEST_COLUMNS if name not in counts]
    if len(missing) == len(MANIFEST_COLUMNS):
        raise _ManifestProblem(
            "no_header",
            "no manifest column in the first line: the header is missing or not separated by ',' or ';' "
            f"(required: {', '.join(MANIFEST_COLUMNS)})",
        )
    if missing:
        raise _ManifestProblem(
            "missing_columns",
            f"required column(s) missing from the header: {', '.join(missing)} (required: {', '.join(MANIFEST_COLUMNS)})",
        )
    positions = {name: names.index(name) for name in MANIFEST_COLUMNS}
    return _Header(cells=list(cells), positions=positions, unknown=len(names) - len(MANIFEST_COLUMNS))


def _recorded_at(text: str) -> dt.datetime | None:
    """ISO 8601 timestamp in UTC; no offset means Europe/Amsterdam (design §4)."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=AMSTERDAM)
    return moment.astimezone(dt.UTC)


# --- checks per record ------------------------------------------------------------------


def _fill_values(rows: list[_Row], header: _Header) -> None:
    """Cells by column name; a record with more or fewer cells than the header is refused whole."""
    width = len(header.cells)
    for row in rows:
        cells = list(row.cells)
        while len(cells) > width and cells[-1] == "":  # Excel pads records with a trailing ';'
            cells.pop()
        if len(cells) != width:
            row.reject("", "wrong_field_count")
        else:
            row.values = {name: cells[position].strip() for name, position in header.positions.items()}


def _check_cells(rows: list[_Row], header: _Header, refusals: dict[str, str | None]) -> None:
    """Checks that need neither the files nor the respondents."""
    _fill_values(rows, header)
    for row in rows:
        if not row.values:
            continue
        assignment_id = row.values["assignment_id"]
        if not assignment_id:
            row.reject("assignment_id", "missing_value")
        elif assignment_id not in refusals:
            row.reject("assignment_id", "unknown_assignment")
        elif refusals[assignment_id]:
            row.reject("assignment_id", refusals[assignment_id])
        if not row.values["respondent_ref"]:
            row.reject("respondent_ref", "missing_value")
        if not row.values["recorded_at"]:
            row.reject("recorded_at", "missing_value")
        else:
            row.recorded_at = _recorded_at(row.values["recorded_at"])
            if row.recorded_at is None:
                row.reject("recorded_at", "invalid_timestamp")
        if not _SHA256.match(row.sha256):
            row.reject("sha256", "bad_sha256")


def _check_files(rows: list[_Row], client_id: str) -> None:
    """Each named file: inside landing, present, the promised bytes, a real PCM WAV."""
    owner: set[str] = set()
    for row in rows:
        if not row.values:
            continue
        name = row.values["file_name"]
        if name and name in owner:
            row.reject("file_name", "duplicate_recording")  # the first record naming it decides
            continue
        owner.add(name)
        try:
            path = landing.resolve(client_id, name)
        except landing.UnsafePath:
            row.reject("file_name", "unsafe_path")
            continue
        if not name.lower().endswith(".wav"):  # a manifest never hands another delivery file to the WAV checks
            row.reject("file_name", "unsafe_path")
            continue
        if not path.exists():
            row.reject("file_name", "missing_file")
            continue
        if not path.is_file():
            row.reject("file_name", "unsafe_path")
            continue
        row.path, row.owns_file = path, True
        row.size_bytes = path.stat().st_size
        row.content_sha = landing.sha256_of(path)
        if _SHA256.match(row.sha256) and row.content_sha != row.sha256:
            row.reject("sha256", "sha256_mismatch")
        try:
            row.info = wav.inspect(path)
        except wav.WavError as exc:
            row.reject("file_name", exc.code)


def _mark_suppressed(conn: Connection, rows: list[_Row], client: ClientConfig, manifest: str) -> None:
    """R7: mark the records of people on the suppression list, whatever else is wrong with them."""
    import pandas as pd

    named = [row for row in rows if row.values]
    if not named:
        return
    frame = pd.DataFrame({"respondent_ref": [row.values["respondent_ref"] for row in named]}, dtype="str")
    try:
        objected = suppression.suppressed(conn, client.client_id, frame, client.country)
    except suppression.SecretMissing as exc:  # names the setting to fix, never a value
        raise RecordingsError(f"{manifest}: nothing loaded; {exc}") from None
    for row, drop in zip(named, objected.tolist(), strict=True):
        row.suppressed = bool(drop)


def _batches(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _BATCH):
        yield list(items[start : start + _BATCH])


def _check_warehouse(conn: Connection, rows: list[_Row], client_id: str) -> None:
    """Link each record to its respondent; refuse content the store already holds (R10: one copy)."""
    dialect = conn.dialect.name
    by_assignment: dict[str, set[str]] = {}
    for row in rows:
        if row.values and row.values["respondent_ref"] and not any(c == "assignment_id" for c, _ in row.problems):
            by_assignment.setdefault(row.values["assignment_id"], set()).add(row.values["respondent_ref"])
    respondents: dict[tuple[str, str], int] = {}
    query = sql.statement("recordings_respondents", dialect).bindparams(sa.bindparam("refs", expanding=True))
    for assignment_id, refs in by_assignment.items():
        for batch in _batches(sorted(refs)):
            found = conn.execute(query, {"client_id": client_id, "assignment_id": assignment_id, "refs": batch})
            respondents.update({(assignment_id, ref): rid for ref, rid in found})
    for row in rows:
        if row.values and (row.values["assignment_id"], row.values["respondent_ref"]) in respondents:
            row.respondent_id = respondents[(row.values["assignment_id"], row.values["respondent_ref"])]
        elif row.values and row.values["respondent_ref"] and not any(c == "assignment_id" for c, _ in row.problems):
            row.reject("respondent_ref", "unknown_respondent")

    shas = sorted({row.sha256 for row in rows if row.values and _SHA256.match(row.sha256)})
    stored: set[str] = set()
    query = sql.statement("recordings_stored", dialect).bindparams(sa.bindparam("shas", expanding=True))
    for batch in _batches(shas):
        stored.update(conn.execute(query, {"client_id": client_id, "shas": batch}).scalars())
    storing: set[str] = set()
    for row in rows:
        if not row.values or not _SHA256.match(row.sha256) or ("file_name", "duplicate_recording") in row.problems:
            continue
        if row.sha256 in stored or (not row.problems and row.sha256 in storing):
            row.reject("sha256", "duplicate_recording")
        elif not row.problems:
            storing.add(row.sha256)


# --- storing and quarantining files ---------------------------------------------------------


def _stored_path(client_id: str, row: _Row) -> str:
    """Content address, relative to KCM_HOME/recordings: no name of a person in it."""
    return recordings_store.stored_path(client_id, row.values["assignment_id"], row.sha256)


def _neutral_name(source: Path, label: str, suffix: str = ".wav") -> Path:
    """Rename a landing entry so its name (maybe a person's) never reaches quarantine records."""
    target = source.with_name(f"{label}{suffix}")
    if target != source and (target.exists() or target.is_symlink()):
        target = source.with_name(f"{label}.{uuid.uuid4().hex[:8]}{suffix}")
    os.replace(source, target)
    return target


def _quarantine_wav(
    eng: Engine, client: ClientConfig, row: _Row, *, manifest: str, delivery_id: int, as_of: dt.date
) -> None:
    """Move a bad record's WAV to quarantine, under the file's own problem if it has one."""
    file_codes = [code for column, code in row.problems if column in ("file_name", "sha256")]
    code = (file_codes or [row.problems[0][1]])[0]
    codes = ", ".join(f"{c}:{p}" if c else p for c, p in row.problems)
    with eng.begin() as conn:
        source = _neutral_name(row.path, f"{Path(manifest).stem}.record{row.record}")
        quarantine.quarantine_file(
            conn,
            client_id=client.client_id,
            source=source,
            delivery_id=delivery_id,
            sha256=row.content_sha,
            reason_code=code,
            reason=f"{manifest}: record {row.record}: {codes}",
            as_of=as_of,
            non_respondent_months=client.non_respondent_months,
        )


# --- the manifest as a delivery --------------------------------------------------------------


def _result(
    file_name: str, delivery_id: int | None, status: str, rows: Sequence[_Row] = (), reasons: Counter | None = None
) -> dict:
    """What the task hands on through XCom: the manifest's name, counts and reason codes."""
    loaded, quarantined, suppressed = _counts(rows)
    return {
        "file": file_name,
        "delivery_id": delivery_id,
        "status": status,
        "rows_total": len(rows),
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "rows_suppressed": suppressed,
        "reasons": dict(sorted((reasons or Counter()).items())),
    }


def _counts(rows: Sequence[_Row]) -> tuple[int, int, int]:
    """Records loaded, quarantined and suppressed (R7); together they are all records read."""
    suppressed = sum(1 for row in rows if row.suppressed)
    loaded = sum(1 for row in rows if not row.suppressed and not row.problems)
    return loaded, len(rows) - loaded - suppressed, suppressed


def ingest_manifest(eng: Engine, client: ClientConfig, file_name: str, *, run_id: str, as_of: dt.date) -> dict:
    """Store the recordings of one manifest, bad rows and their WAVs to quarantine (design §4, R10, R12).

    Status "loaded", "partially_loaded", "quarantined" (no row loaded, or the manifest
    unreadable as a whole), "duplicate" (same bytes as an earlier manifest), or
    "not_found" when an earlier try of the task already handled the file.
    """
    client_id = client.client_id
    try:
        manifest = landing.resolve(client_id, file_name)
    except landing.UnsafePath as exc:
        raise RecordingsError(f"{file_name}: {exc}") from None
    if not manifest.is_file():
        log.warning("%s: no longer in landing/%s (handled by an earlier try); nothing to do", file_name, client_id)
        return _result(file_name, None, "not_found")
    raw = manifest.read_bytes()
    manifest_sha = hashlib.sha256(raw).hexdigest()
    with eng.connect() as conn:
        earlier = deliveries.already_handled(conn, client_id, FILE_KIND, manifest_sha)
    if earlier is not None:
        return _duplicate(eng, client, manifest, raw, earlier["id"], run_id=run_id, as_of=as_of)
    try:
        header, rows = _read_manifest(raw)
    except _ManifestProblem as problem:
        return _quarantine_manifest(eng, client, manifest, manifest_sha, len(raw), problem, run_id=run_id, as_of=as_of)

    with _plain_errors(f"{file_name}: checking the records"):
        with eng.connect() as conn:
            statement = sql.statement("recordings_assignments", eng.dialect.name)
            refusals = dict(conn.execute(statement, {"client_id": client_id, "as_of": as_of}).all())
        _check_cells(rows, header, refusals)
        _check_files(rows, client_id)
        with eng.connect() as conn:
            _mark_suppressed(conn, rows, client, file_name)
            _check_warehouse(conn, [row for row in rows if not row.suppressed], client_id)
    delivery_id, reasons = _load(
        eng, client, file_name, manifest_sha, len(raw), header, rows, run_id=run_id, as_of=as_of
    )

    # Committed: a crash from here on leaves landing files that the re-run cleans as a duplicate.
    with _plain_errors(f"{file_name}: loaded as delivery {delivery_id}, but clearing the landing zone"):
        for row in rows:
            if row.suppressed or not_held(row):
                if row.owns_file:  # R7 objected, or R2/R4 past term: the call may be kept nowhere
                    row.path.unlink(missing_ok=True)
            elif row.problems and row.owns_file:
                _quarantine_wav(eng, client, row, manifest=file_name, delivery_id=delivery_id, as_of=as_of)
            elif not row.problems:
                row.path.unlink(missing_ok=True)
        manifest.unlink()
    result = _result(file_name, delivery_id, _status(rows), rows, reasons)
    if header.unknown:
        log.warning("%s: %d column(s) outside the manifest contract were ignored", file_name, header.unknown)
    log.info(
        "%s: %s; %d record(s), %d stored (%.1f s of audio), %d quarantined, %d suppressed (R7); reasons %s",
        file_name,
        result["status"],
        len(rows),
        result["rows_loaded"],
        _audio_seconds(rows),
        result["rows_quarantined"],
        result["rows_suppressed"],
        result["reasons"] or "none",
    )
    return result


def not_held(row: _Row) -> bool:
    """The row was refused because its call may no longer be held at all (R2, R4): not even in quarantine."""
    return any(code in quarantine.NOT_HELD for _column, code in row.problems)


def _status(rows: Sequence[_Row]) -> str:
    loaded, quarantined, _suppressed = _counts(rows)
    return "loaded" if not quarantined else "partially_loaded" if loaded else "quarantined"


def _audio_seconds(rows: Sequence[_Row]) -> float:
    return round(sum(row.info.duration_seconds for row in rows if not row.problems and not row.suppressed), 1)


def _load(
    eng: Engine,
    client: ClientConfig,
    file_name: str,
    manifest_sha: str,
    size: int,
    header: _Header,
    rows: list[_Row],
    *,
    run_id: str,
    as_of: dt.date,
) -> tuple[int, Counter]:
    """Copy the good WAVs into the store, then record rows, rejects and the audit event in one transaction."""
    client_id = client.client_id
    written: list[str] = []
    rejected = quarantine.RowQuarantine(client_id, file_name, manifest_sha, header.cells)
    try:
        for row in rows:
            if row.problems or row.suppressed:
                continue
            target = _stored_path(client_id, row)
            if recordings_store.put(row.path, target, row.sha256):
                written.append(target)
            else:  # the file changed after it was checked: still being uploaded or overwritten
                row.reject("sha256", "sha256_mismatch")
        reasons = Counter(code for row in rows if not row.suppressed for _column, code in row.problems)
        stored = [row for row in rows if not row.problems and not row.suppressed]
        _loaded, quarantined, suppressed = _counts(rows)
        status = _status(rows)
        with eng.begin() as conn:
            delivery_id = deliveries.record(
                conn,
                client_id=client_id,
                file_name=file_name,
                file_kind=FILE_KIND,
                sha256=manifest_sha,
                size_bytes=size,
                status=status,
                run_id=run_id,
                rows_total=len(rows),
                rows_loaded=len(stored),
                rows_quarantined=quarantined,
                reasons=reasons,
            )
            if suppressed:
                conn.execute(
                    sql.statement("r7_delivery_suppressed", eng.dialect.name),
                    {"delivery_id": delivery_id, "rows_suppressed": suppressed},
                )
            if stored:
                conn.execute(
                    sql.statement("recordings_insert", eng.dialect.name),
                    [_recording(client_id, row, delivery_id) for row in stored],
                )
            for row in rows:
                if row.problems and not row.suppressed:
                    rejected.add(row.record, row.cells, row.problems)
            rejected.close(
                conn, delivery_id=delivery_id, as_of=as_of, non_respondent_months=client.non_respondent_months
            )
            audit.append(
                conn,
                rule="INGEST",
                action=f"recordings_{status}",
                client_id=client_id,
                as_of=as_of,
                run_id=run_id,
                counts={
                    "file_kind": FILE_KIND,
                    "delivery_id": delivery_id,
                    "unknown_columns": header.unknown,
                    "rows_total": len(rows),
                    "rows_loaded": len(stored),
                    "rows_quarantined": quarantined,
                    "rows_suppressed": suppressed,
                    "audio_seconds": _audio_seconds(rows),
                    "reasons": dict(reasons),
                },
            )
    except BaseException as exc:
        for target in written:  # nothing committed refers to them
            recordings_store.delete(target)
        rejected.discard()
        if isinstance(exc, (sa.exc.SQLAlchemyError, OSError)):
            raise RecordingsError(
                f"{file_name}: nothing was loaded ({_describe(exc)}); the manifest stays in landing for the next run"
            ) from None
        raise
    return delivery_id, reasons


def _recording(client_id: str, row: _Row, delivery_id: int) -> dict:
    return {
        "client_id": client_id,
        "assignment_id": row.values["assignment_id"],
        "respondent_id": row.respondent_id,
        "file_name": row.values["file_name"],
        "stored_path": _stored_path(client_id, row),
        "sha256": row.sha256,
        "recorded_at": row.recorded_at,
        "duration_seconds": row.info.duration_seconds,
        "sample_rate": row.info.sample_rate,
        "channels": row.info.channels,
        "sample_width": row.info.sample_width,
        "size_bytes": row.size_bytes,
        "delivery_id": delivery_id,
    }


def _quarantine_manifest(
    eng: Engine,
    client: ClientConfig,
    manifest: Path,
    sha: str,
    size: int,
    problem: _ManifestProblem,
    *,
    run_id: str,
    as_of: dt.date,
) -> dict:
    """The manifest cannot be read as a whole: it goes to quarantine; its WAVs wait for a corrected one."""
    reasons = Counter({problem.code: 1})
    with eng.begin() as conn:
        delivery_id = deliveries.record(
            conn,
            client_id=client.client_id,
            file_name=manifest.name,
            file_kind=FILE_KIND,
            sha256=sha,
            size_bytes=size,
            status="quarantined",
            run_id=run_id,
            reasons=reasons,
        )
        quarantine.quarantine_file(
            conn,
            client_id=client.client_id,
            source=manifest,
            delivery_id=delivery_id,
            sha256=sha,
            reason_code=problem.code,
            reason=f"{manifest.name}: {problem.problem}",
            as_of=as_of,
            non_respondent_months=client.non_respondent_months,
        )
        audit.append(
            conn,
            rule="INGEST",
            action="recordings_quarantined",
            client_id=client.client_id,
            as_of=as_of,
            run_id=run_id,
            counts={"file_kind": FILE_KIND, "delivery_id": delivery_id, "rows_total": 0, "reasons": dict(reasons)},
        )
    log.warning("%s: quarantined as a whole (%s: %s)", manifest.name, problem.code, problem.problem)
    return _result(manifest.name, delivery_id, "quarantined", reasons=reasons)


def _duplicate(
    eng: Engine, client: ClientConfig, manifest: Path, raw: bytes, delivery_id: int, *, run_id: str, as_of: dt.date
) -> dict:
    """Same bytes as an earlier manifest: load nothing; remove the named WAVs the store holds or R7 suppresses."""
    try:
        header, rows = _read_manifest(raw)
    except _ManifestProblem:
        header, rows = _Header([], {}, 0), []
    with _plain_errors(f"{manifest.name}: clearing the landing zone of a duplicate"):
        _fill_values(rows, header)
        _check_files(rows, client.client_id)
        named = {row.path: row.content_sha for row in rows if row.owns_file and row.content_sha == row.sha256}
        stored: set[str] = set()
        query = sql.statement("recordings_stored", eng.dialect.name).bindparams(sa.bindparam("shas", expanding=True))
        with eng.begin() as conn:
            for batch in _batches(sorted(set(named.values()))):
                stored.update(conn.execute(query, {"client_id": client.client_id, "shas": batch}).scalars())
            removable = [path for path, sha in named.items() if sha in stored]
            _mark_suppressed(
                conn, rows, client, manifest.name
            )  # R7: an objector's call is removed, whatever the store holds
            removable += [row.path for row in rows if row.suppressed and row.owns_file and row.path not in removable]
            audit.append(
                conn,
                rule="INGEST",
                action="recordings_duplicate",
                client_id=client.client_id,
                as_of=as_of,
                run_id=run_id,
                counts={"file_kind": FILE_KIND, "earlier_delivery_id": delivery_id, "wavs_removed": len(removable)},
            )
        for path in removable:  # the store holds these bytes; anything else waits for the sweep (R10)
            path.unlink(missing_ok=True)
        manifest.unlink()
    log.info(
        "%s: same content as delivery %s; nothing loaded, %d stored WAV(s) removed from landing",
        manifest.name,
        delivery_id,
        len(removable),
    )
    return _result(manifest.name, delivery_id, "duplicate")


# --- the sweep ---------------------------------------------------------------------------------


def _tree_digest(folder: Path) -> str:
    """A stand-in checksum for a directory: its entries' relative names and sizes."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            digest.update(f"{path.relative_to(folder)}\0{path.lstat().st_size}\n".encode())
    return digest.hexdigest()


def _unlink_links(folder: Path) -> int:
    """Remove every symbolic link below a folder, never following one."""
    removed = 0
    for root, dirs, files in os.walk(folder):  # os.walk does not descend into linked folders
        for name in [*dirs, *files]:
            path = Path(root, name)
            if path.is_symlink():
                path.unlink()
                removed += 1
    return removed


def sweep_landing(eng: Engine, client: ClientConfig, *, run_id: str, as_of: dt.date) -> dict:
    """R10: quarantine what no manifest or contract explains; a WAV waits LANDING_WAV_GRACE_DAYS for its manifest."""
    client_id = client.client_id
    folder = settings.landing_dir(client_id)
    found = landing.find(client_id)
    counts = Counter({"wavs_waiting": 0, "wavs_quarantined": 0, "unknown_quarantined": 0, "links_removed": 0})

    def to_quarantine(source: Path, sha: str, code: str, reason: str) -> None:
        with eng.begin() as conn:
            quarantine.quarantine_file(
                conn,
                client_id=client_id,
                source=source,
                delivery_id=None,
                sha256=sha,
                reason_code=code,
                reason=reason,
                as_of=as_of,
                non_respondent_months=client.non_respondent_months,
            )

    for name in found.recordings:
        with _plain_errors(f"landing/{client_id}: sweeping a WAV"):
            path = folder / name
            arrived_on = terms.arrived_on(path)
            if (as_of - arrived_on).days <= LANDING_WAV_GRACE_DAYS:
                counts["wavs_waiting"] += 1
                continue
            sha = landing.sha256_of(path)
            reason = f"a WAV that arrived on {arrived_on} and no manifest named within {LANDING_WAV_GRACE_DAYS} days"
            to_quarantine(_neutral_name(path, "no_manifest"), sha, "no_manifest", reason)
            counts["wavs_quarantined"] += 1

    for name in found.other:
        with _plain_errors(f"landing/{client_id}: sweeping a file of unknown kind"):
            path = folder / name
            if path.is_symlink() or not (path.is_file() or path.is_dir()):
                # Links are never followed; pipes and sockets (counted with them) hold nothing to keep.
                path.unlink()
                counts["links_removed"] += 1
                continue
            if path.is_dir():
                counts["links_removed"] += _unlink_links(path)
                sha, kind = _tree_digest(path), "folder"
                source = _neutral_name(path, "unknown_folder", "")
            else:
                extension = re.sub(r"[^a-z0-9]", "", path.suffix.lower())[:10]
                sha, kind = landing.sha256_of(path), f"file ({'.' + extension if extension else 'no extension'})"
                source = _neutral_name(path, "unknown_file", f".{extension}" if extension else "")
            to_quarantine(source, sha, "unknown_file_kind", f"a {kind} that is no responses, manifest or WAV delivery")
            counts["unknown_quarantined"] += 1

    if counts["wavs_quarantined"] + counts["unknown_quarantined"] + counts["links_removed"]:
        audit.append(
            eng, rule="R10", action="landing_swept", client_id=client_id, as_of=as_of, run_id=run_id, counts=counts
        )
        log.warning("landing/%s swept: %s", client_id, dict(counts))
    else:
        log.info("landing/%s: %d WAV(s) wait for a manifest; nothing to quarantine", client_id, counts["wavs_waiting"])
    return dict(counts)
