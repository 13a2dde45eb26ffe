"""The delivery record: one row per file handled, with counts and reason codes (no values)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def already_handled(conn: Connection, client_id: str, file_kind: str, sha256: str) -> Mapping | None:
    """The earlier delivery of the same bytes, if any: a re-delivery loads nothing twice."""
    return conn.execute(
        sa.text("SELECT id, status FROM deliveries WHERE client_id = :c AND file_kind = :k AND sha256 = :s"),
        {"c": client_id, "k": file_kind, "s": sha256},
    ).mappings().first()


def record(
    conn: Connection,
    *,
    client_id: str,
    file_name: str,
    file_kind: str,
    sha256: str,
    size_bytes: int,
    status: str,
    run_id: str | None,
    rows_total: int = 0,
    rows_loaded: int = 0,
    rows_quarantined: int = 0,
    reasons: Mapping[str, int] | None = None,
) -> int:
    """Insert a delivery row and return its id."""
    return conn.execute(
        sa.text(
            "INSERT INTO deliveries (client_id, file_name, file_kind, sha256, size_bytes, received_at, status, "
            "rows_total, rows_loaded, rows_quarantined, reasons, run_id) VALUES (:client_id, :file_name, :file_kind, "
            ":sha256, :size_bytes, :received_at, :status, :rows_total, :rows_loaded, :rows_quarantined, :reasons, :run_id) "
            "RETURNING id"
        ),
        {
            "client_id": client_id, "file_name": file_name, "file_kind": file_kind, "sha256": sha256,
            "size_bytes": size_bytes, "received_at": dt.datetime.now(dt.timezone.utc), "status": status,
            "rows_total": rows_total, "rows_loaded": rows_loaded, "rows_quarantined": rows_quarantined,
            "reasons": json.dumps(dict(reasons or {}), sort_keys=True), "run_id": run_id,
        },
    ).scalar_one()


def update(conn: Connection, delivery_id: int, *, status: str, rows_total: int, rows_loaded: int,
           rows_quarantined: int, reasons: Mapping[str, int]) -> None:
    conn.execute(
        sa.text(
            "UPDATE deliveries SET status = :status, rows_total = :rows_total, rows_loaded = :rows_loaded, "
            "rows_quarantined = :rows_quarantined, reasons = :reasons WHERE id = :id"
        ),
        {"id": delivery_id, "status": status, "rows_total": rows_total, "rows_loaded": rows_loaded,
         "rows_quarantined": rows_quarantined, "reasons": json.dumps(dict(reasons), sort_keys=True)},
    )
