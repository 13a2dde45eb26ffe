"""Quarantine (design §4, R10): bad files and bad rows are kept aside with a reason, never dropped.

Quarantined content is personal data: it lives under KCM_HOME/quarantine/<client>/
with a term of its own (`QUARANTINE_DAYS`, at most the non-respondent term) and a
record in the warehouse. Reasons name the file, the row, the column and a reason
code; they never carry a value from the delivery.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from include import settings

QUARANTINE_DAYS = 30
# A row refused because its data may no longer be held at all (R2 past term, R3 non-respondent past
# term, R4 destroyed) is recorded by record number and reason with its assignment only: keeping its
# values in quarantine for QUARANTINE_DAYS would outlive the very term that refused it.
NOT_HELD = frozenset({"assignment_past_term", "non_respondent_past_term", "assignment_destroyed"})
KEPT_WHEN_NOT_HELD = frozenset({"assignment_id"})


def purge_on(created_on: dt.date, non_respondent_months: int = 2) -> dt.date:
    """Term of a quarantined item: QUARANTINE_DAYS, never longer than the R3 term."""
    from include.terms import add_months

    return min(created_on + dt.timedelta(days=QUARANTINE_DAYS), add_months(created_on, non_respondent_months))


def _record(
    conn: Connection,
    *,
    client_id: str,
    delivery_id: int | None,
    kind: str,
    path: Path,
    reason_code: str,
    reason: str,
    rows: int,
    created_on: dt.date,
    non_respondent_months: int,
) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO quarantine_records (client_id, delivery_id, kind, path, reason_code, reason, rows, created_on, purge_on) "
            "VALUES (:client_id, :delivery_id, :kind, :path, :reason_code, :reason, :rows, :created_on, :purge_on)"
        ),
        {
            "client_id": client_id,
            "delivery_id": delivery_id,
            "kind": kind,
            "path": str(path.relative_to(settings.kcm_home() / "quarantine")),
            "reason_code": reason_code,
            "reason": reason,
            "rows": rows,
            "created_on": created_on,
            "purge_on": purge_on(created_on, non_respondent_months),
        },
    )


def quarantine_file(
    conn: Connection,
    *,
    client_id: str,
    source: Path,
    delivery_id: int | None,
    sha256: str,
    reason_code: str,
    reason: str,
    as_of: dt.date,
    non_respondent_months: int = 2,
) -> Path:
    """Move a whole file to quarantine with a `<name>.reason.json` beside it."""
    folder = settings.quarantine_dir(client_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{sha256[:16]}-{source.name}"
    shutil.move(str(source), target)
    reason_doc = {
        "file": source.name,
        "delivery_id": delivery_id,
        "sha256": sha256,
        "reason_code": reason_code,
        "reason": reason,
        "quarantined_on": as_of.isoformat(),
    }
    target.with_name(target.name + ".reason.json").write_text(json.dumps(reason_doc, indent=2), encoding="utf-8")
    _record(
        conn,
        client_id=client_id,
        delivery_id=delivery_id,
        kind="file",
        path=target,
        reason_code=reason_code,
        reason=reason,
        rows=0,
        created_on=as_of,
        non_respondent_months=non_respondent_months,
    )
    return target


class RowQuarantine:
    """Collects rejected rows of one delivery into `<sha>-<stem>.rejected.csv` plus a reasons file.

    The CSV keeps the original cells (it is personal data, under quarantine terms)
    with the record number and reason codes, except for rows whose data may no longer
    be held (NOT_HELD): of those only the assignment is kept. The reasons file has no
    cell values.
    """

    def __init__(self, client_id: str, file_name: str, sha256: str, header: Sequence[str]) -> None:
        folder = settings.quarantine_dir(client_id)
        self.client_id = client_id
        self.file_name = file_name
        self.path = folder / f"{sha256[:16]}-{Path(file_name).stem}.rejected.csv"
        self.header = list(header)
        self.rows = 0
        self.reasons: dict[str, int] = {}
        self.examples: list[dict[str, object]] = []
        self._handle = None
        self._writer = None

    def add(self, record_number: int, cells: Sequence[str], problems: Iterable[tuple[str, str]]) -> None:
        """Quarantine one row; `problems` are (column, reason_code) pairs."""
        problems = list(problems)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["_record", "_reasons", *self.header])
        codes = ";".join(f"{column}:{code}" if column else code for column, code in problems)
        if any(code in NOT_HELD for _column, code in problems):
            cells = [cell if name in KEPT_WHEN_NOT_HELD else "" for name, cell in zip(self.header, cells, strict=False)]
        self._writer.writerow([record_number, codes, *cells])
        self.rows += 1
        for column, code in problems:
            key = f"{column}:{code}" if column else code
            self.reasons[key] = self.reasons.get(key, 0) + 1
        if len(self.examples) < 50:
            self.examples.append({"record": record_number, "problems": [f"{c}:{p}" if c else p for c, p in problems]})

    def close(self, conn: Connection, *, delivery_id: int, as_of: dt.date, non_respondent_months: int = 2) -> None:
        if self._handle is None:
            return
        self._handle.close()
        summary = {
            "file": self.file_name,
            "delivery_id": delivery_id,
            "rows": self.rows,
            "reasons": self.reasons,
            "first_rows": self.examples,
        }
        self.path.with_name(self.path.name + ".reason.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        reason = "; ".join(f"{key} x{count}" for key, count in sorted(self.reasons.items()))
        _record(
            conn,
            client_id=self.client_id,
            delivery_id=delivery_id,
            kind="rows",
            path=self.path,
            reason_code="bad_rows",
            reason=reason[:2000],
            rows=self.rows,
            created_on=as_of,
            non_respondent_months=non_respondent_months,
        )

    def discard(self) -> None:
        """Drop the partial file after a failed load (the whole delivery will be retried)."""
        if self._handle is not None:
            self._handle.close()
            self.path.unlink(missing_ok=True)
