"""Ingest of responses deliveries (design §4): read, validate with Great Expectations, load, quarantine.

One file is one transaction: the delivery record, the upserts, the quarantine records
and the audit event commit together; only then does the raw file leave the landing
zone (R10). A crash before the commit leaves the file in landing for the next run
(quarantine file names are derived from the content hash, so they are overwritten);
a crash after it leaves a file whose hash is already recorded: the next run calls it
a duplicate and removes it.

The file streams in chunks: memory stays flat for a million records. Valid records
are bulk loaded into a staging table (COPY on PostgreSQL) and upserted set-based.

Nothing from a record reaches logs, exceptions, XCom or audit events: they carry the
file name, record numbers, column names, reason codes and counts.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gc
import hashlib
import io
import logging
import os
import shutil
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include import audit, identifiers, quarantine, settings, sql, suppression
from include.config import ClientConfig
from include.ingest import contract, deliveries, landing, summary, validation

log = logging.getLogger(__name__)

CHUNK_RECORDS = 100_000
# Staged columns in the order of include/sql/ingest_staging_*.sql (after record_number).
STAGED = (
    "assignment_id", "respondent_ref", "invited_at", "invited_on", "responded_at",
    "first_name", "last_name", "email", "phone", "street", "house_number", "postcode", "city",
    "birth_date", "gender", "marital_status", "customer_number", "transaction_id", "transaction_date",
    "complaint_history", "nps", "csat", "answer_text", "ip_address", "user_agent",
)  # fmt: skip
_KEY_SEPARATOR = "\x1f"


class WholeFileProblem(Exception):
    """The file cannot be read as a whole; `reason` names what is wrong and how to fix it, never a value."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class IngestError(RuntimeError):
    """A load failed for a reason outside the file (database, disk); the file stays in landing for a retry."""


@dataclass
class Outcome:
    """What happened to one file: the XCom-safe result of `ingest_file`."""

    file: str
    status: str
    delivery_id: int | None = None
    rows_total: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_suppressed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    whole_file_reason: str = ""

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "delivery_id": self.delivery_id,
            "status": self.status,
            "rows_total": self.rows_total,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_suppressed": self.rows_suppressed,
            "reasons": dict(sorted(self.reasons.items())),
        }


def ingest_file(
    eng: Engine,
    client: ClientConfig,
    file_name: str,
    *,
    run_id: str,
    as_of: dt.date,
    chunk_records: int = CHUNK_RECORDS,
) -> dict:
    """Validate one responses CSV in landing/<client_id>/ and load it; bad rows and bad files go to quarantine."""
    source = landing.resolve(client.client_id, file_name)
    if not source.is_file():
        raise FileNotFoundError(f"{file_name}: not in landing/{client.client_id}/ (already handled by another run?)")
    failure = None
    try:
        sha256, size, problem = _scan(source)
        try:
            with eng.begin() as conn:
                outcome = _handle(
                    conn, client, source, sha256, size, problem, run_id=run_id, as_of=as_of, chunk_records=chunk_records
                )
        except WholeFileProblem as whole:
            with eng.begin() as conn:
                outcome = _quarantine_whole(conn, client, source, sha256, size, whole, run_id=run_id, as_of=as_of)
    except (IngestError, suppression.SecretMissing) as exc:
        failure = str(exc)
    except Exception as exc:  # noqa: BLE001 - re-raised below without the message, which may quote a value
        failure = _describe(exc)
    if failure:
        # Raised outside the handler: no chained exception carries a driver message into the task log.
        raise IngestError(f"{file_name}: not loaded ({failure}); the file stays in landing for the next try")
    # Committed: the warehouse (or quarantine) holds the data now, the raw file may go (R10).
    source.unlink(missing_ok=True)
    _log(outcome)
    return outcome.as_dict()


def _describe(exc: BaseException) -> str:
    """Where a load failed, without the exception's message (driver messages quote rows)."""
    ours = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith(str(settings.PROJECT_ROOT / "include"))
    ]
    frame = ours[-1] if ours else None
    where = f" in {Path(frame.filename).name}:{frame.lineno} ({frame.name})" if frame else ""
    code = getattr(getattr(exc, "orig", None), "pgcode", None)
    return f"{type(exc).__name__}{where}" + (f", SQLSTATE {code}" if code else "")


def _handle(
    conn: Connection,
    client: ClientConfig,
    source: Path,
    sha256: str,
    size: int,
    problem: WholeFileProblem | None,
    *,
    run_id: str,
    as_of: dt.date,
    chunk_records: int,
) -> Outcome:
    earlier = deliveries.already_handled(conn, client.client_id, contract.FILE_KIND, sha256)
    if earlier:
        audit.append(
            conn,
            rule="INGEST",
            action="delivery_duplicate",
            client_id=client.client_id,
            as_of=as_of,
            run_id=run_id,
            counts={
                "file_kind": contract.FILE_KIND,
                "earlier_delivery_id": earlier["id"],
                "sha256": sha256,
                **({"file": source.name} if len(source.name) <= 64 else {}),
            },
        )
        return Outcome(file=source.name, status="duplicate", delivery_id=earlier["id"])
    if problem:
        raise problem
    if client.destruction_requested_on and client.destruction_requested_on <= as_of:
        raise WholeFileProblem(
            "client_destroyed",
            f"the client asked on {client.destruction_requested_on} to destroy all its data (R4): nothing is loaded",
        )
    return _load(conn, client, source, sha256, size, run_id=run_id, as_of=as_of, chunk_records=chunk_records)


# --- reading -------------------------------------------------------------------------------


def _scan(path: Path) -> tuple[str, int, WholeFileProblem | None]:
    """Content hash and size in one pass, checking on the way that the bytes are UTF-8 text."""
    digest, size, problem = hashlib.sha256(), 0, None
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            if size == 0 and block[:2] in (b"\xff\xfe", b"\xfe\xff"):
                problem = WholeFileProblem("encoding", "the file is UTF-16; export it as UTF-8 ('CSV UTF-8' in Excel)")
            digest.update(block)
            if problem is None:
                if b"\x00" in block:
                    problem = WholeFileProblem(
                        "not_csv", "the file holds binary data (NUL bytes): it is not a CSV text file"
                    )
                else:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as exc:
                        problem = WholeFileProblem(
                            "encoding",
                            f"not valid UTF-8 at byte {size + exc.start}; export the file as UTF-8 ('CSV UTF-8' in Excel)",
                        )
            size += len(block)
    if problem is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            problem = WholeFileProblem(
                "encoding", "the file ends inside a UTF-8 character: it was cut off or is not UTF-8"
            )
    if size == 0:
        problem = WholeFileProblem("empty", "the file is empty: a header and at least one record are required")
    return digest.hexdigest(), size, problem


def _open(path: Path):
    # utf-8-sig drops a BOM (Excel writes one); newline='' lets csv keep newlines inside quoted answers.
    return path.open("r", encoding="utf-8-sig", newline="")


def _read_header(path: Path) -> tuple[list[str], str]:
    """The header cells and the delimiter (';' or ','), sniffed from the header line."""
    with _open(path) as handle:
        first_line = handle.readline()
        if not first_line.strip():
            if not first_line or not handle.read().strip():
                raise WholeFileProblem("empty", "the file holds no text: a header and at least one record are required")
            raise WholeFileProblem("no_header", "the first line is blank; the header must be the first line")
    semicolons, commas = first_line.count(";"), first_line.count(",")
    if not semicolons and not commas and ("\t" in first_line or "|" in first_line):
        raise WholeFileProblem("delimiter", "fields are separated by tabs or '|'; use ',' or ';'")
    delimiter = ";" if semicolons > commas else ","
    with _open(path) as handle:
        cells = next(csv.reader(handle, delimiter=delimiter))
    return cells, delimiter


def _records(path: Path, delimiter: str, width: int) -> Iterator[tuple[int, list[str]]]:
    """(record number, cells) after the header; record 1 is the first record under it. Blank lines are no records."""
    with _open(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        number = 0
        try:
            for cells in reader:
                if not cells:
                    continue
                number += 1
                # Excel pads rows with empty cells (a trailing ';'): harmless beyond the header's width.
                while len(cells) > width and cells[-1] == "":
                    cells.pop()
                yield number, cells
        except csv.Error as exc:
            # csv's messages describe the structure ('field larger than field limit'), never the content.
            raise WholeFileProblem("not_csv", f"record {number + 1} cannot be read as CSV: {exc}") from None


def _count_records(path: Path, *, header_is_record: bool = False) -> int:
    """Records of a file quarantined whole, when it can be parsed at all (a headerless file's first line is one)."""
    try:
        _cells, delimiter = _read_header(path)
        return sum(1 for _ in _records(path, delimiter, width=1 << 30)) + header_is_record
    except (WholeFileProblem, OSError, UnicodeDecodeError):
        return 0


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a file streams: it would rescan millions of short-lived
    record lists again and again (a third of the time); they are freed by reference counting anyway."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _chunks(records: Iterator[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    chunk: list[tuple[int, list[str]]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- loading -------------------------------------------------------------------------------


def _load(
    conn: Connection,
    client: ClientConfig,
    source: Path,
    sha256: str,
    size: int,
    *,
    run_id: str,
    as_of: dt.date,
    chunk_records: int,
) -> Outcome:
    cells, delimiter = _read_header(source)
    header = contract.match_header(cells)
    if header.repeated:
        raise WholeFileProblem(
            "duplicate_columns", f"column(s) named twice in the header: {', '.join(header.repeated)}"
        )
    if header.missing:
        if len(header.missing) == len(contract.REQUIRED) and not header.positions:
            raise WholeFileProblem(
                "no_header",
                f"no contract column in the first line: the header is missing or not separated by ',' or ';' "
                f"(required: {', '.join(contract.REQUIRED)})",
            )
        raise WholeFileProblem(
            "missing_columns",
            f"required column(s) missing from the header: {', '.join(header.missing)} "
            f"(required: {', '.join(contract.REQUIRED)})",
        )

    assignments = validation.assignment_states(conn, client.client_id, as_of)
    suite = validation.ResponsesSuite(header.columns, assignments, country=client.country)
    delivery_id = deliveries.record(
        conn,
        client_id=client.client_id,
        file_name=source.name,
        file_kind=contract.FILE_KIND,
        sha256=sha256,
        size_bytes=size,
        status="loading",
        run_id=run_id,
    )
    rejected = quarantine.RowQuarantine(client.client_id, source.name, sha256, cells)
    staging = _Staging(conn)
    try:
        checker = _Checker(conn, client.client_id, suite, header, len(cells), client.country, as_of)
        total = 0
        with _cyclic_gc_paused():
            for chunk in _chunks(_records(source, delimiter, len(cells)), chunk_records):
                total += len(chunk)
                staging.add(checker.check(chunk, rejected))
        if checker.repeated_later:
            _withdraw_repeated(source, delimiter, header, len(cells), checker.repeated_later, staging, rejected)
        if total == 0:
            raise WholeFileProblem("empty", "the file has a header but no records")
        loaded = staging.upsert(client.client_id, delivery_id)
        suppressed = checker.suppressed
        if loaded + rejected.rows + suppressed != total:
            raise IngestError(
                f"{total} records read but {loaded} loaded, {rejected.rows} quarantined and {suppressed} suppressed"
            )
        rejected.close(conn, delivery_id=delivery_id, as_of=as_of, non_respondent_months=client.non_respondent_months)
    except BaseException:
        rejected.discard()
        raise
    reasons = dict(rejected.reasons)
    if header.unknown:
        reasons["unknown_columns"] = header.unknown
    status = "loaded" if not rejected.rows else ("partially_loaded" if loaded else "quarantined")
    outcome = Outcome(
        file=source.name,
        status=status,
        delivery_id=delivery_id,
        rows_total=total,
        rows_loaded=loaded,
        rows_quarantined=rejected.rows,
        rows_suppressed=suppressed,
        reasons=reasons,
    )
    deliveries.update(
        conn,
        delivery_id,
        status=status,
        rows_total=total,
        rows_loaded=loaded,
        rows_quarantined=rejected.rows,
        reasons=reasons,
    )
    if suppressed:
        conn.execute(
            sql.statement("r7_delivery_suppressed", conn.dialect.name),
            {"delivery_id": delivery_id, "rows_suppressed": suppressed},
        )
    audit.append(
        conn,
        rule="INGEST",
        action="delivery_loaded",
        client_id=client.client_id,
        as_of=as_of,
        run_id=run_id,
        counts=_audit_counts(outcome),
    )
    return outcome


class _Checker:
    """Validates chunks of one file: cleans and normalises cells, runs the suite, tracks keys across chunks."""

    def __init__(
        self,
        conn: Connection,
        client_id: str,
        suite: validation.ResponsesSuite,
        header: contract.Header,
        width: int,
        country: str,
        as_of: dt.date,
    ) -> None:
        self.conn = conn
        self.client_id = client_id
        self.suite = suite
        self.header = header
        self.width = width
        self.country = country
        self.as_of = as_of
        self.seen_keys: set[str] = set()
        # Keys met again in a later chunk: their earlier, already staged records are withdrawn at the end.
        self.repeated_later: set[str] = set()
        self.suppressed = 0

    def check(self, chunk: list[tuple[int, list[str]]], rejected: quarantine.RowQuarantine) -> pd.DataFrame | None:
        """Quarantine the chunk's bad records; return its valid records, normalised, for staging."""
        first = chunk[0][0]
        shaped = [(number, cells) for number, cells in chunk if len(cells) == self.width]
        for number, cells in chunk:
            if len(cells) != self.width:
                rejected.add(number, cells, [("", "field_count")])
        if not shaped:
            return None
        frame = _frame(shaped, self.header)
        _normalise(frame, self.country)
        # R7: a person who objected is not loaded, and not kept in quarantine either.
        objected = suppression.suppressed(self.conn, self.client_id, frame, self.country)
        if objected.any():
            self.suppressed += int(objected.sum())
            frame = frame[~objected.to_numpy()]
            if frame.empty:
                return None
        problems = self.suite.validate(frame)
        moments = validation.check_parsed(frame, problems, as_of=self.as_of)
        self._repeated_keys(frame, problems)
        for number in sorted(problems):
            rejected.add(number, chunk[number - first][1], problems[number])
        good = frame.index.difference(pd.Index(list(problems), dtype=frame.index.dtype))
        return _staged(frame.loc[good], moments.invited_at[good], moments.responded_at[good])

    def _repeated_keys(self, frame: pd.DataFrame, problems: validation.Problems) -> None:
        keys = (frame["assignment_id"] + _KEY_SEPARATOR + frame["respondent_ref"]).dropna()
        seen = self.seen_keys
        again = np.fromiter((key in seen for key in keys), dtype=bool, count=len(keys))
        for number, key in zip(keys.index[again], keys[again], strict=True):
            problems.setdefault(number, []).append(("", "duplicate_key"))
            self.repeated_later.add(key)
        seen.update(keys)


def _frame(rows: list[tuple[int, list[str]]], header: contract.Header) -> pd.DataFrame:
    """Contract columns of well-shaped records as text, stripped, '' as missing; indexed by record number."""
    numbers = pd.Index([number for number, _ in rows])
    by_position = list(zip(*(cells for _, cells in rows), strict=True))
    # A list comprehension strips and blanks in one pass: twice as fast as pandas' str.strip plus mask.
    return pd.DataFrame(
        {
            name: pd.Series([cell.strip() or None for cell in by_position[position]], index=numbers, dtype="str")
            for name, position in header.positions.items()
        }
    )


def _normalise(frame: pd.DataFrame, country: str) -> None:
    """E-mail, phone and postcode in their stored form (include.identifiers). A value that does not
    normalise stays as delivered, so the suite's format check reports it."""
    normalisers = {
        "email": identifiers.normalise_emails,
        "phone": lambda values: identifiers.normalise_phones(values, country),
        "postcode": lambda values: identifiers.normalise_postcodes(values, country),
    }
    for name, normalise in normalisers.items():
        if name in frame:
            frame[name] = normalise(frame[name]).fillna(frame[name])


def _staged(frame: pd.DataFrame, invited_at: pd.Series, responded_at: pd.Series) -> pd.DataFrame:
    """The staging table's columns, in its order, as text the database parses."""
    staged = pd.DataFrame(index=frame.index)
    for name in STAGED:
        if name == "invited_at":
            staged[name] = _utc_text(invited_at)
        elif name == "responded_at":
            staged[name] = _utc_text(responded_at)
        elif name == "invited_on":
            staged[name] = validation.amsterdam_day(invited_at).dt.strftime("%Y-%m-%d")
        elif name in frame:
            staged[name] = frame[name]
        else:
            staged[name] = None
    return staged


def _utc_text(moments: pd.Series) -> pd.Series:
    """UTC moments as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's SQLite form; PostgreSQL gets '+00' added)."""
    return moments.dt.tz_localize(None).dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def _withdraw_repeated(
    source: Path,
    delimiter: str,
    header: contract.Header,
    width: int,
    keys: set[str],
    staging: _Staging,
    rejected: quarantine.RowQuarantine,
) -> None:
    """A key met in more than one chunk: quarantine every record of it (we cannot know which is right)."""
    a, r = header.positions["assignment_id"], header.positions["respondent_ref"]
    candidates = {
        number: cells
        for number, cells in _records(source, delimiter, width)
        if len(cells) == width and f"{cells[a].strip()}{_KEY_SEPARATOR}{cells[r].strip()}" in keys
    }
    for number in sorted(staging.withdraw(list(candidates))):
        rejected.add(number, candidates[number], [("", "duplicate_key")])


class _Staging:
    """The temporary table holding one file's valid records until the set-based upsert."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.rows = 0
        conn.execute(sql.statement("ingest_staging_drop", self.dialect))
        conn.execute(sql.statement("ingest_staging_create", self.dialect))

    def add(self, staged: pd.DataFrame | None) -> None:
        if staged is None or staged.empty:
            return
        columns = [staged[name].to_numpy(dtype=object, na_value=None) for name in STAGED]
        if self.dialect == "postgresql":
            for position in (STAGED.index("invited_at"), STAGED.index("responded_at")):
                columns[position] = [None if moment is None else f"{moment}+00" for moment in columns[position]]
            buffer = io.StringIO()
            # csv writes None as an unquoted empty field: NULL to COPY (no value is '' after cleaning).
            csv.writer(buffer, lineterminator="\n").writerows(zip(staged.index, *columns, strict=True))
            buffer.seek(0)
            with self.conn.connection.dbapi_connection.cursor() as cursor:
                cursor.copy_expert(sql.statement("ingest_staging_copy", self.dialect).text, buffer)
        else:
            names = ("record_number", *STAGED)
            rows = [dict(zip(names, values, strict=True)) for values in zip(staged.index, *columns, strict=True)]
            self.conn.execute(sql.statement("ingest_staging_insert", self.dialect), rows)
        self.rows += len(staged)

    def withdraw(self, records: list[int]) -> list[int]:
        statement = sql.statement("ingest_staging_withdraw", self.dialect).bindparams(
            sa.bindparam("records", expanding=True)
        )
        withdrawn: list[int] = []
        for start in range(0, len(records), 10_000):
            batch = records[start : start + 10_000]
            withdrawn += [row[0] for row in self.conn.execute(statement, {"records": batch})]
        self.rows -= len(withdrawn)
        return withdrawn

    def upsert(self, client_id: str, delivery_id: int) -> int:
        """Set-based upsert of the staged people and their answers; returns the people loaded."""
        if self.rows == 0:
            return 0
        if self.dialect == "postgresql":
            self.conn.execute(sql.statement("ingest_staging_analyze", self.dialect))
        people = sql.statement("ingest_upsert_respondents", self.dialect).bindparams(
            sa.bindparam("loaded_at", type_=sa.DateTime(timezone=True))
        )
        params = {"client_id": client_id, "delivery_id": delivery_id, "loaded_at": dt.datetime.now(dt.UTC)}
        loaded = self.conn.execute(people, params).rowcount
        self.conn.execute(sql.statement("ingest_withdrawn_responses", self.dialect), {"client_id": client_id})
        self.conn.execute(sql.statement("ingest_upsert_responses", self.dialect), {"client_id": client_id})
        if loaded != self.rows:
            raise IngestError(f"staged {self.rows} records but the upsert touched {loaded} people")
        return loaded


# --- whole-file quarantine -----------------------------------------------------------------


def _quarantine_whole(
    conn: Connection,
    client: ClientConfig,
    source: Path,
    sha256: str,
    size: int,
    problem: WholeFileProblem,
    *,
    run_id: str,
    as_of: dt.date,
) -> Outcome:
    """Move the file to quarantine with its reason; the raw copy leaves landing after the commit."""
    countable = problem.code not in ("encoding", "not_csv", "empty")
    records = _count_records(source, header_is_record=problem.code == "no_header") if countable else 0
    reasons = {problem.code: 1}
    delivery_id = deliveries.record(
        conn,
        client_id=client.client_id,
        file_name=source.name,
        file_kind=contract.FILE_KIND,
        sha256=sha256,
        size_bytes=size,
        status="quarantined",
        run_id=run_id,
        rows_total=records,
        rows_quarantined=records,
        reasons=reasons,
    )
    link = _second_link(client.client_id, source)
    quarantine.quarantine_file(
        conn,
        client_id=client.client_id,
        source=link,
        delivery_id=delivery_id,
        sha256=sha256,
        reason_code=problem.code,
        reason=problem.reason,
        as_of=as_of,
        non_respondent_months=client.non_respondent_months,
    )
    with contextlib.suppress(OSError):  # leave no empty folder behind; another file may still be in it
        link.parent.rmdir()
    outcome = Outcome(
        file=source.name,
        status="quarantined",
        delivery_id=delivery_id,
        rows_total=records,
        rows_quarantined=records,
        reasons=reasons,
        whole_file_reason=problem.reason,
    )
    audit.append(
        conn,
        rule="INGEST",
        action="delivery_quarantined",
        client_id=client.client_id,
        as_of=as_of,
        run_id=run_id,
        counts=_audit_counts(outcome),
    )
    return outcome


def _second_link(client_id: str, source: Path) -> Path:
    """A second name for the raw file, for quarantine_file to move; the landing name goes after the commit,
    so a crash before it leaves the file in landing to be handled again, not lost."""
    incoming = settings.quarantine_dir(client_id) / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    link = incoming / source.name
    link.unlink(missing_ok=True)
    try:
        os.link(source, link)
    except OSError:  # another file system: copy
        shutil.copy2(source, link)
    return link


# --- reporting -----------------------------------------------------------------------------


def _audit_counts(outcome: Outcome) -> dict:
    counts = {
        "file_kind": contract.FILE_KIND,
        "delivery_id": outcome.delivery_id,
        "status": outcome.status,
        "rows_total": outcome.rows_total,
        "rows_loaded": outcome.rows_loaded,
        "rows_quarantined": outcome.rows_quarantined,
        "rows_suppressed": outcome.rows_suppressed,
        "reasons": outcome.reasons,
    }
    if len(outcome.file) <= 64:
        counts["file"] = outcome.file
    return counts


def _log(outcome: Outcome) -> None:
    if outcome.status == "duplicate":
        log.info(
            "%s: already delivered (delivery %s), nothing loaded; raw file removed", outcome.file, outcome.delivery_id
        )
    elif outcome.whole_file_reason:
        log.warning(
            "%s: whole file quarantined (%s): %s", outcome.file, ", ".join(outcome.reasons), outcome.whole_file_reason
        )
    else:
        line = f"{outcome.file}: {outcome.rows_loaded:,} rows loaded, {outcome.rows_quarantined:,} quarantined"
        if outcome.rows_suppressed:
            line += f", {outcome.rows_suppressed:,} suppressed (R7: the person objected)"
        if outcome.reasons:
            line += f" ({summary.describe_reasons(outcome.reasons)})"
        (log.warning if outcome.rows_quarantined else log.info)(line)
