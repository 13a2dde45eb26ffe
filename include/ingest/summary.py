"""What an ingest run delivered, loaded and quarantined: one readable log line per file and one audit event (R12).

Everything here is counts, file names of deliveries and reason codes; never a value from a record.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter

from sqlalchemy.engine import Engine

from include import audit, sql

log = logging.getLogger(__name__)
STATUSES = ("loaded", "partially_loaded", "quarantined")


def _reasons(raw: object) -> dict[str, int]:
    return json.loads(raw) if isinstance(raw, str) else dict(raw or {})


def describe_reasons(reasons: dict[str, int]) -> str:
    """'email:format x7, nps:range x5' — reason codes by count, most frequent first."""
    return ", ".join(f"{code} x{count:,}" for code, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


def summarise_run(eng: Engine, client_id: str, *, run_id: str, as_of: dt.date) -> dict:
    """Log each delivery of this run and append the run's totals to the audit trail (rule INGEST)."""
    dialect = eng.dialect.name
    params = {"client_id": client_id, "run_id": run_id}
    with eng.connect() as conn:
        files = conn.execute(sql.statement("ingest_run_deliveries", dialect), params).mappings().all()
        duplicates = [_reasons(row[0]) for row in conn.execute(sql.statement("ingest_run_duplicates", dialect), params)]
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    totals = {"rows_total": 0, "rows_loaded": 0, "rows_quarantined": 0, "rows_suppressed": 0}
    for row in files:
        statuses[row["status"]] += 1
        file_reasons = _reasons(row["reasons"])
        reasons.update(file_reasons)
        for key in totals:
            totals[key] += row[key]
        line = (
            f"{row['file_name']}: {row['status']}, {row['rows_loaded']:,} of {row['rows_total']:,} rows loaded, "
            f"{row['rows_quarantined']:,} quarantined"
        )
        if row["rows_suppressed"]:
            line += f", {row['rows_suppressed']:,} suppressed (R7)"
        if file_reasons:
            line += f" ({describe_reasons(file_reasons)})"
        (log.warning if row["status"] != "loaded" else log.info)(line)
    for duplicate in duplicates:
        log.info(
            "%s: same content as delivery %s, nothing loaded",
            duplicate.get("file", "a file"),
            duplicate.get("earlier_delivery_id"),
        )
    counts = {
        "files": len(files) + len(duplicates),
        **{status: statuses[status] for status in STATUSES},
        "duplicates": len(duplicates),
        **totals,
        "reasons": dict(sorted(reasons.items())),
    }
    log.info(
        "%s: %s file(s): %s loaded, %s partially loaded, %s quarantined, %s duplicate(s); %s of %s rows loaded, "
        "%s quarantined, %s suppressed",
        client_id, counts["files"], counts["loaded"], counts["partially_loaded"], counts["quarantined"],
        counts["duplicates"], f"{counts['rows_loaded']:,}", f"{counts['rows_total']:,}",
        f"{counts['rows_quarantined']:,}", f"{counts['rows_suppressed']:,}",
    )  # fmt: skip
    audit.append(
        eng, rule="INGEST", action="ingest_run", client_id=client_id, as_of=as_of, run_id=run_id, counts=counts
    )
    return counts


def client_summary(eng: Engine, client_id: str) -> dict:
    """What the warehouse holds for a client, in counts (for the demo and the data team)."""
    dialect = eng.dialect.name
    with eng.connect() as conn:
        held = dict(
            conn.execute(sql.statement("ingest_client_summary", dialect), {"client_id": client_id}).mappings().one()
        )
        by_status = conn.execute(
            sql.statement("ingest_client_deliveries", dialect), {"client_id": client_id}
        ).mappings()
        deliveries = {
            f"{row['file_kind']}:{row['status']}": {
                "files": row["files"], "rows_loaded": int(row["rows_loaded"]),
                "rows_quarantined": int(row["rows_quarantined"]),
            }
            for row in by_status
        }  # fmt: skip
    return {
        "client_id": client_id,
        **{key: int(value) for key, value in held.items()},
        "deliveries_by_status": deliveries,
    }
