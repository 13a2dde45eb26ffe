"""Ingest of responses deliveries (design §4): read, validate with Great Expectations, load, quarantine.

One file is one transaction: the delivery record, the upserts, the quarantine records
and the audit event commit together; only then does the raw file leave the landing
zone (R10). A crash before the commit leaves the file in landing for the next run
(quarantine file names are derived from the content hash, so they are overwritten);
a crash after it leaves a file whose hash is already recorded: the next run calls it
a duplicate and removes it.

The file streams in chunks: memory stays flat for a million records. Arrow's CSV reader
(C++) reads it, with Python's csv module as the reference for any file Arrow would read
differently. Valid records are bulk loaded into a staging table (COPY on PostgreSQL) and
upserted set-based; on PostgreSQL a worker thread loads each chunk while the next is checked.

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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
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


@dataclass
class _Chunk:
    """Consecutive records of a file: the well-shaped ones as a frame, and their cells as delivered."""

    records: int
    frame: pd.DataFrame | None  # contract columns, stripped, '' as missing; indexed by record number
    misshaped: list[tuple[int, list[str]]]  # records with more or fewer cells than the header
    cells: Callable[[list[int]], list[list[str]]]  # the delivered cells of records, for quarantine


def _python_chunks(path: Path, delimiter: str, header: contract.Header, width: int, size: int) -> Iterator[_Chunk]:
    """Chunks read with Python's csv module: every file, whatever its shape."""
    for chunk in _chunks(_records(path, delimiter, width), size):
        first = chunk[0][0]
        shaped = [(number, cells) for number, cells in chunk if len(cells) == width]
        yield _Chunk(
            records=len(chunk),
            frame=_frame(shaped, header) if shaped else None,
            misshaped=[(number, cells) for number, cells in chunk if len(cells) != width],
            cells=lambda numbers, chunk=chunk, first=first: [chunk[number - first][1] for number in numbers],
        )


class _NotPlain(Exception):
    """Arrow's reader met a record only Python's csv module reads as the contract says (read again with it)."""


def _plain_header(path: Path) -> bool:
    """Arrow skips the header as one line: only a header without quotes is certainly one line."""
    with _open(path) as handle:
        return '"' not in handle.readline()


def _arrow_chunks(path: Path, delimiter: str, header: contract.Header, width: int, size: int) -> Iterator[_Chunk]:
    """Chunks read by Arrow's CSV reader (C++), for files where every record has the header's width.

    Records, cells and record numbers are those the csv module reads (quoted newlines, doubled quotes,
    blank lines skipped, CR, LF or CRLF). Anything else, a record of another width, a cell over the csv
    module's field limit, raises _NotPlain before that record's chunk is handed out: the file is then
    read again by `_python_chunks`, which reports it exactly.
    """
    names = [f"c{position}" for position in range(width)]
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False, block_size=16 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:  # its message quotes the record: never passed on
        reader = None
    if reader is None:
        raise _NotPlain
    buffered: list[pa.RecordBatch] = []
    rows, first = 0, 1
    for batch in _arrow_batches(reader):
        buffered.append(batch)
        rows += batch.num_rows
        while rows >= size:
            table = pa.Table.from_batches(buffered)
            yield _arrow_chunk(table.slice(0, size), first, header)
            first += size
            rest = table.slice(size)
            buffered, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield _arrow_chunk(pa.Table.from_batches(buffered), first, header)


def _arrow_batches(reader: pa_csv.CSVStreamingReader) -> Iterator[pa.RecordBatch]:
    while True:
        irregular = False
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid:  # a record of another width or a quote left open; the message quotes it
            irregular = True
        if irregular:
            raise _NotPlain
        yield batch


def _arrow_chunk(table: pa.Table, first: int, header: contract.Header) -> _Chunk:
    limit = csv.field_size_limit()
    for column in table.columns:
        # Bytes bound characters from above: count characters only when the bytes come near the limit.
        if column.length() and pc.max(pc.binary_length(column)).as_py() >= limit:
            if pc.max(pc.utf8_length(column)).as_py() >= limit:
                raise _NotPlain
    numbers = pd.RangeIndex(first, first + table.num_rows)
    frame = pd.DataFrame(
        {
            name: pd.Series(
                _blank_to_null(pc.utf8_trim(table.column(position), identifiers.WHITESPACE)), index=numbers, dtype="str"
            )
            for name, position in header.positions.items()
        }
    )

    def cells(records: list[int]) -> list[list[str]]:
        picked = table.take(pa.array([number - first for number in records], pa.int64()))
        return [list(row) for row in zip(*(column.to_pylist() for column in picked.columns), strict=True)]

    return _Chunk(records=table.num_rows, frame=frame, misshaped=[], cells=cells)


def _blank_to_null(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


@dataclass
class _KeysAhead:
    """The keys (assignment_id, respondent_ref) of a whole file, read before its first chunk is checked."""

    pairs: pa.Table  # each key once: to find the people the warehouse holds already
    spread: set[str]  # keys in more than one chunk: their records wait for the end (see _Staging)


def _keys_ahead(path: Path, delimiter: str, header: contract.Header, width: int, size: int) -> _KeysAhead | None:
    """The file's keys, cleaned as `_arrow_chunk` cleans them, by Arrow; None if Arrow cannot read the file."""
    names = [f"c{position}" for position in range(width)]
    wanted = [names[header.positions["assignment_id"]], names[header.positions["respondent_ref"]]]
    try:
        table = pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                include_columns=wanted,
                column_types=dict.fromkeys(wanted, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:  # its message quotes the record: never passed on
        return None
    keys = pa.table(
        {
            "assignment_id": _blank_to_null(pc.utf8_trim(table.column(0), identifiers.WHITESPACE)),
            "respondent_ref": _blank_to_null(pc.utf8_trim(table.column(1), identifiers.WHITESPACE)),
            "chunk": pa.array(np.arange(table.num_rows) // size),
        }
    ).drop_null()
    # First and last chunk of each key: a key is spread when they differ.
    pairs = keys.group_by(["assignment_id", "respondent_ref"]).aggregate([("chunk", "min"), ("chunk", "max")])
    spread = pairs.filter(pc.not_equal(pairs["chunk_min"], pairs["chunk_max"]))
    joined = pc.binary_join_element_wise(spread["assignment_id"], spread["respondent_ref"], _KEY_SEPARATOR)
    return _KeysAhead(pairs=pairs.select(["assignment_id", "respondent_ref"]), spread=set(joined.to_pylist()))


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

    width = len(cells)
    plain = _plain_header(source)
    streamed = plain and conn.dialect.name == "postgresql"
    with ThreadPoolExecutor(1, "ingest-keys") as reader:
        # Arrow reads the keys in its own threads while Great Expectations sets up (its first import takes seconds).
        reading = reader.submit(_keys_ahead, source, delimiter, header, width, chunk_records) if streamed else None
        assignments = validation.assignment_states(conn, client.client_id, as_of)
        suite = validation.ResponsesSuite(header.columns, assignments, country=client.country)
        ahead = reading.result() if reading else None
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
    # R7: most clients have nobody on the suppression list; then no chunk needs to ask again.
    objections = bool(suppression.listed(conn, client.client_id))
    if streamed:
        attempts = [(_arrow_chunks, ahead), (_python_chunks, None)] if ahead is not None else [(_python_chunks, None)]
    elif plain:
        attempts = [(_arrow_chunks, None), (_python_chunks, None)]
    else:
        attempts = [(_python_chunks, None)]
    for read, keys in attempts:
        rejected = quarantine.RowQuarantine(client.client_id, source.name, sha256, cells)
        # Chunks are upserted as they come when the keys were read ahead: a savepoint takes them back
        # should Arrow's reader give up on the file after all.
        savepoint = conn.begin_nested() if keys is not None else None
        try:
            with _Staging(conn, client.client_id, delivery_id, keys) as staging:
                checker = _Checker(conn, client, suite, staging, as_of, objections)
                total = _stage_chunks(read(source, delimiter, header, width, chunk_records), checker, rejected)
                if total is not None:
                    if checker.repeated_later:
                        _withdraw_repeated(source, delimiter, header, width, checker.repeated_later, staging, rejected)
                    if total == 0:
                        raise WholeFileProblem("empty", "the file has a header but no records")
                    loaded = staging.upsert(client.client_id, delivery_id)
            if total is None:  # Arrow's reader gave up on this file: undo, and read it again with csv
                rejected.discard()
                if savepoint is not None:
                    savepoint.rollback()
                continue
            if savepoint is not None:
                savepoint.commit()
            suppressed = checker.suppressed
            if loaded + rejected.rows + suppressed != total:
                raise IngestError(
                    f"{total} records read but {loaded} loaded, {rejected.rows} quarantined and {suppressed} suppressed"
                )
            rejected.close(
                conn, delivery_id=delivery_id, as_of=as_of, non_respondent_months=client.non_respondent_months
            )
        except BaseException:
            rejected.discard()
            raise
        break
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


def _stage_chunks(chunks: Iterator[_Chunk], checker: _Checker, rejected: quarantine.RowQuarantine) -> int | None:
    """Check every chunk and stage its valid records; the records read, or None if Arrow's reader gave up."""
    total = 0
    with _cyclic_gc_paused():
        try:
            for chunk in chunks:
                total += chunk.records
                checker.staging.add(checker.check(chunk, rejected))
        except _NotPlain:
            return None
    return total


class _Checker:
    """Validates chunks of one file: normalises cells, runs the suite, tracks keys across chunks."""

    def __init__(
        self,
        conn: Connection,
        client: ClientConfig,
        suite: validation.ResponsesSuite,
        staging: _Staging,
        as_of: dt.date,
        objections: bool,
    ) -> None:
        self.conn = conn
        self.client_id = client.client_id
        self.suite = suite
        self.staging = staging
        self.country = client.country
        self.non_respondent_months = client.non_respondent_months  # R3
        self.as_of = as_of
        self.objections = objections  # anyone on the client's suppression list (R7)
        self.seen_keys: set[str] = set()
        # Keys met again in a later chunk: their earlier, already staged records are withdrawn at the end.
        self.repeated_later: set[str] = set()
        self.suppressed = 0

    def check(self, chunk: _Chunk, rejected: quarantine.RowQuarantine) -> pd.DataFrame | None:
        """Quarantine the chunk's bad records; return its valid records, normalised, for staging."""
        for number, cells in chunk.misshaped:
            rejected.add(number, cells, [("", "field_count")])
        frame = chunk.frame
        if frame is None:
            return None
        _normalise(frame, self.country)
        if self.objections:
            # R7: a person who objected is not loaded, and not kept in quarantine either.
            self.staging.wait()  # the connection is the worker's until its job is done
            objected = suppression.suppressed(self.conn, self.client_id, frame, self.country)
            if objected.any():
                self.suppressed += int(objected.sum())
                frame = frame[~objected.to_numpy()]
                if frame.empty:
                    return None
        problems = self.suite.validate(frame)
        moments = validation.check_parsed(
            frame, problems, as_of=self.as_of, non_respondent_months=self.non_respondent_months
        )
        self._repeated_keys(frame, problems)
        numbers = sorted(problems)
        for number, cells in zip(numbers, chunk.cells(numbers), strict=True):
            rejected.add(number, cells, problems[number])
        invited_at, responded_at = moments.invited_at, moments.responded_at
        if numbers:
            good = frame.index.difference(pd.Index(numbers, dtype=frame.index.dtype))
            frame, invited_at, responded_at = frame.loc[good], invited_at[good], responded_at[good]
        return _staged(frame, invited_at, responded_at)

    def _repeated_keys(self, frame: pd.DataFrame, problems: validation.Problems) -> None:
        keys = (frame["assignment_id"] + _KEY_SEPARATOR + frame["respondent_ref"]).dropna()
        # One conversion to Python strings: iterating the Arrow-backed series costs a call per key.
        values, seen = keys.tolist(), self.seen_keys
        for position in [position for position, key in enumerate(values) if key in seen]:
            problems.setdefault(int(keys.index[position]), []).append(("", "duplicate_key"))
            self.repeated_later.add(values[position])
        seen.update(values)


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
    """The staging table's columns, in its order: moments in UTC, invited_on the Amsterdam day, the rest text."""
    staged = pd.DataFrame(index=frame.index)
    for name in STAGED:
        if name == "invited_at":
            staged[name] = invited_at
        elif name == "responded_at":
            staged[name] = responded_at
        elif name == "invited_on":
            staged[name] = validation.amsterdam_day(invited_at)
        elif name in frame:
            staged[name] = frame[name]
        else:
            staged[name] = None
    return staged


def _as_csv(staged: pd.DataFrame) -> io.BytesIO:
    """Staged records as CSV for COPY (PostgreSQL), written by Arrow: a missing value is an unquoted
    empty field, NULL to COPY (no value is '' after cleaning); moments as UTC text with '+00'."""
    arrays = [pa.array(staged.index.to_numpy(), pa.int64())]
    for name in STAGED:
        values = staged[name]
        if name in ("invited_at", "responded_at"):
            # Arrow's CSV writer formats zoned moments twenty times slower than this.
            utc = pc.cast(pa.array(values).cast(pa.timestamp("us")), pa.string())
            arrays.append(pc.binary_join_element_wise(utc, pa.scalar("+00"), ""))
        elif name == "invited_on":
            arrays.append(pc.cast(pa.array(values), pa.date32()))
        elif values.dtype == object:  # a column the delivery does not have: all missing
            arrays.append(pa.nulls(len(values), pa.string()))
        else:
            arrays.append(pa.array(values))
    buffer = io.BytesIO()
    table = pa.Table.from_arrays(arrays, names=["record_number", *STAGED])
    pa_csv.write_csv(table, buffer, write_options=pa_csv.WriteOptions(include_header=False))
    buffer.seek(0)
    return buffer


def _csv_of(table: pa.Table) -> io.BytesIO:
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    buffer.seek(0)
    return buffer


def _as_rows(staged: pd.DataFrame) -> list[dict]:
    """Staged records as parameters (SQLite): moments as SQLAlchemy stores them, days as ISO text."""
    columns = []
    for name in STAGED:
        values = staged[name]
        if name in ("invited_at", "responded_at"):
            values = _utc_text(values)
        elif name == "invited_on":
            values = values.dt.strftime("%Y-%m-%d")
        columns.append(values.to_numpy(dtype=object, na_value=None))
    names = ("record_number", *STAGED)
    return [dict(zip(names, values, strict=True)) for values in zip(staged.index, *columns, strict=True)]


def _utc_text(moments: pd.Series) -> pd.Series:
    """UTC moments as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's SQLite form)."""
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
    """The temporary table holding valid records until their set-based upsert (include/sql/ingest_*.sql).

    On PostgreSQL a worker thread does the database's part while Python checks the next chunk: it COPYs
    each chunk and, when the file's keys were read ahead, upserts it and empties the table again. A record
    whose key occurs in another chunk as well waits in ingest_held instead: at the end its key may prove
    repeated, and then every record of it is withdrawn (quarantined), none loaded. Without keys read ahead
    (SQLite, a file only the csv module reads) every record waits, and all are upserted at the end.
    Nothing else uses the connection until `wait` says the worker is done.
    """

    def __init__(self, conn: Connection, client_id: str, delivery_id: int, ahead: _KeysAhead | None = None) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.ahead = ahead  # keys read ahead: chunks are upserted as they come
        self._released = False
        self.params = {"client_id": client_id, "delivery_id": delivery_id, "loaded_at": dt.datetime.now(dt.UTC)}
        self.rows = 0  # records staged, upserted or waiting, less those withdrawn
        self.loaded = 0  # people upserted chunk by chunk
        self._waiting = 0  # records in the staging table (or held) for the upsert at the end
        self._known = 0  # people of the file the warehouse holds already (PostgreSQL)
        self._pending: Future | None = None
        self._worker = ThreadPoolExecutor(1, "ingest-load") if self.dialect == "postgresql" else None
        self._execute("ingest_staging_drop")
        self._execute("ingest_staging_create")
        if self.dialect == "postgresql":
            self._execute("ingest_known_create")
        if ahead is not None:
            self._execute("ingest_held_create")
            self._pending = self._worker.submit(self._find_known, ahead.pairs)

    def __enter__(self) -> _Staging:
        return self

    def __exit__(self, failure: type[BaseException] | None, *_details) -> None:
        try:
            if failure is None:
                self.wait()
            else:
                with contextlib.suppress(Exception):  # the first failure is the one to report
                    self.wait()
        finally:
            if self._worker is not None:
                self._worker.shutdown(wait=True)

    def wait(self) -> None:
        """Return once the worker's job in flight is done (raising what it raised)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def add(self, staged: pd.DataFrame | None) -> None:
        if staged is None or staged.empty:
            return
        self.rows += len(staged)
        if self.dialect != "postgresql":
            self.conn.execute(sql.statement("ingest_staging_insert", self.dialect), _as_rows(staged))
            self._waiting += len(staged)
            return
        if self.ahead is None:
            job, args = self._copy, ("ingest_staging_copy", _as_csv(staged))
            self._waiting += len(staged)
        else:
            keys = staged["assignment_id"] + _KEY_SEPARATOR + staged["respondent_ref"]
            held = keys.isin(self.ahead.spread).to_numpy() if self.ahead.spread else np.zeros(len(staged), bool)
            now, later = staged[~held], staged[held]
            job, args = self._upsert_chunk, (_as_csv(now) if len(now) else None, _as_csv(later) if len(later) else None)
            self._waiting += len(later)
        self.wait()
        self._pending = self._worker.submit(job, *args)

    def withdraw(self, records: list[int]) -> list[int]:
        self._gather()
        statement = sql.statement("ingest_staging_withdraw", self.dialect).bindparams(
            sa.bindparam("records", expanding=True)
        )
        withdrawn: list[int] = []
        for start in range(0, len(records), 10_000):
            batch = records[start : start + 10_000]
            withdrawn += [row[0] for row in self.conn.execute(statement, {"records": batch})]
        self.rows -= len(withdrawn)
        self._waiting -= len(withdrawn)
        return withdrawn

    def upsert(self, client_id: str, delivery_id: int) -> int:
        """Set-based upsert of the staged people still waiting and their answers; returns all people loaded."""
        self.params.update(client_id=client_id, delivery_id=delivery_id)
        self._gather()
        if self._waiting:
            if self.dialect == "postgresql":
                if self.ahead is None:
                    self._known = self._execute("ingest_known_from_staging")
                people = self._upsert_staged()
            else:
                people = self._execute("ingest_upsert_respondents")
                self._execute("ingest_withdrawn_responses")
                self._execute("ingest_upsert_responses")
            self._count(people, self._waiting)
            self.loaded += people
            self._waiting = 0
        if self.loaded != self.rows:
            raise IngestError(f"staged {self.rows} records but the upsert touched {self.loaded} people")
        return self.loaded

    # --- the worker's jobs and the statements (PostgreSQL unless said otherwise) ---

    def _gather(self) -> None:
        """Wait for the worker; records held back move to the staging table for the end."""
        self.wait()
        if self.ahead is not None and not self._released:
            self._execute("ingest_held_release")
            self._released = True

    def _find_known(self, pairs: pa.Table) -> None:
        # A first delivery for its assignments knows nobody: one look at the index instead of a COPY of every key.
        stored = sql.statement("ingest_assignments_stored", self.dialect).bindparams(
            sa.bindparam("assignment_ids", expanding=True)
        )
        assignment_ids = pc.unique(pairs["assignment_id"]).to_pylist()
        if not self.conn.execute(stored, {**self.params, "assignment_ids": assignment_ids}).scalar():
            return
        self._execute("ingest_keys_create")
        self._copy("ingest_keys_copy", _csv_of(pairs))
        self._known = self._execute("ingest_known_from_keys")
        if self._known:
            self._execute("ingest_known_analyze")

    def _upsert_chunk(self, now: io.BytesIO | None, later: io.BytesIO | None) -> None:
        if now is not None:
            staged = self._copy("ingest_staging_copy", now)
            people = self._upsert_staged()
            self._count(people, staged)
            self.loaded += people
            self._execute("ingest_staging_truncate")
        if later is not None:
            self._copy("ingest_held_copy", later)

    def _upsert_staged(self) -> int:
        """Upsert what the staging table holds; returns the people it touched. People met before
        (a corrected re-delivery) are updated, the rest inserted: for a first delivery only the INSERTs run."""
        people = 0
        if self._known:
            self._execute("ingest_match_respondents")
            self._execute("ingest_staging_analyze")
            people += self._execute("ingest_known_respondents")
            self._execute("ingest_withdrawn_responses")
        people += self._execute("ingest_new_respondents")
        self._execute("ingest_new_responses")
        if self._known:
            self._execute("ingest_known_responses")
        return people

    def _count(self, people: int, staged: int) -> None:
        if people != staged:
            raise IngestError(f"staged {staged} records but the upsert touched {people} people")

    def _copy(self, name: str, rows: io.BytesIO) -> int:
        with self.conn.connection.dbapi_connection.cursor() as cursor:
            cursor.copy_expert(sql.statement(name, self.dialect).text, rows, size=1 << 20)
            return cursor.rowcount

    def _execute(self, name: str) -> int:
        statement = sql.statement(name, self.dialect)
        if ":loaded_at" in statement.text:
            # Typed, so SQLite stores the moment in SQLAlchemy's form like every other timestamp.
            statement = statement.bindparams(sa.bindparam("loaded_at", type_=sa.DateTime(timezone=True)))
        return self.conn.execute(statement, self.params).rowcount


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
