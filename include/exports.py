"""Subject-request exports (R6, R10): everything held about one person, as JSON and CSV, under KCM_HOME/exports/.

An export is personal data with a term of its own: the nightly retention run
removes every export folder 30 days after it was written (include.retention,
EXPORT_DAYS). Folders and files are readable by their owner only. CSV cells that
a spreadsheet would run as a formula (starting with '=', '+', '-', '@', tab or
carriage return) are prefixed with a single quote.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from include import recordings_store, settings

TERM_DAYS = 30
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_TEXT_SUFFIXES = (".json", ".csv", ".txt")

README = """Export of subject request {request_id} ({request_type}), written on {written_on}.

subject.json      everything held about the person, per client, in one document
<table>.csv       the same rows per table, for a spreadsheet (cells that start with
                  = + - @ are prefixed with ' so no formula runs)
recordings/       the call recordings themselves (export requests only)

This folder holds personal data. It is deleted automatically {term_days} days after it was
written; hand it to the person through a secure channel and do not copy it elsewhere.
"""


class UnsafeExportPath(ValueError):
    """A request id that would leave the exports folder."""


def folder_of(request_id: str) -> Path:
    """exports/<request_id>/, guaranteed inside the exports folder."""
    base = settings.exports_dir().resolve()
    target = (base / request_id).resolve()
    if target.parent != base:
        raise UnsafeExportPath("request id must be a plain name")
    return target


def escape_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula (OWASP CSV injection)."""
    text = "" if value is None else _plain(value)
    text = str(text)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _plain(value: object) -> object:
    """JSON-ready form of a warehouse value."""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _private(path: Path, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except OSError:  # a file system without POSIX modes (object storage mounts)
        pass


def write(
    request_id: str,
    request_type: str,
    tables: Mapping[str, Sequence[Mapping[str, object]]],
    *,
    document: Mapping[str, object],
    recordings: Iterable[tuple[str, str]] = (),
    written_on: dt.date,
) -> dict[str, int]:
    """Write (or rewrite) one export folder; returns counts of rows and files written.

    `tables` are rows per table for the CSV files, `document` the JSON document,
    `recordings` (name in the export, stored_path in the recordings store) the files to copy.
    """
    target = folder_of(request_id)
    # A retried task starts from nothing, so no half-written file of an earlier try survives.
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _private(target, 0o700)
    files = 0
    (target / "subject.json").write_text(
        json.dumps(document, indent=2, ensure_ascii=False, default=_plain), encoding="utf-8"
    )
    files += 1
    rows = 0
    for table, table_rows in tables.items():
        columns: list[str] = []
        for row in table_rows:
            columns += [c for c in row if c not in columns]
        with (target / f"{table}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in table_rows:
                writer.writerow([escape_cell(row.get(c)) for c in columns])
                rows += 1
        files += 1
    copied = 0
    for name, source in recordings:
        destination = target / "recordings" / name
        destination.parent.mkdir(exist_ok=True)
        _private(destination.parent, 0o700)
        if recordings_store.copy_out(source, destination):
            copied += 1
    (target / "README.txt").write_text(
        README.format(request_id=request_id, request_type=request_type, written_on=written_on, term_days=TERM_DAYS),
        encoding="utf-8",
    )
    files += 1
    for path in target.rglob("*"):
        if path.is_file():
            _private(path, 0o600)
    return {"rows": rows, "files": files + copied, "recordings": copied}


def remove_mentioning(mentions: Callable[[str], bool], *, keep: Iterable[str] = ()) -> list[str]:
    """R6/R10: delete every export folder whose text files mention the person; returns the request ids removed."""
    base = settings.exports_dir()
    if not base.is_dir():
        return []
    kept = set(keep)
    removed: list[str] = []
    for folder in sorted(base.iterdir()):
        if folder.name in kept or not folder.is_dir() or folder.is_symlink():
            continue
        if any(
            mentions(path.read_text(encoding="utf-8", errors="replace"))
            for path in folder.rglob("*")
            if path.is_file() and path.suffix.lower() in _TEXT_SUFFIXES
        ):
            shutil.rmtree(folder)
            removed.append(folder.name)
    return removed
