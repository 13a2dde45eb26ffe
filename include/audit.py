"""R12 audit trail: append-only, hash-chained events that hold no personal data.

Each event's hash covers its fields and the previous event's hash, so editing or
deleting any event breaks the chain; an anchor file outside the database records
the newest verified head, so cutting events off the end is detected too.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from include import settings

log = logging.getLogger(__name__)
GENESIS = "0" * 64
APPEND_LOCK = 0x4B434D12  # PostgreSQL advisory lock key of the chain's head (R12)
_FIELDS = ("recorded_at", "run_id", "client_id", "assignment_id", "rule", "action", "as_of", "counts")


def _digest(prev_hash: str, event: Mapping[str, object]) -> str:
    body = json.dumps([prev_hash, *(str(event[f]) if event[f] is not None else None for f in _FIELDS)], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _check_counts(counts: Mapping[str, object]) -> str:
    """Counts are ids, numbers and short codes only: never a value from a delivery."""
    for key, value in counts.items():
        if not isinstance(value, (int, float, bool, type(None))) and not (
            isinstance(value, (dict, list)) or (isinstance(value, str) and len(value) <= 64)
        ):
            raise TypeError(f"audit counts[{key!r}] must be a number, flag or short code")
    return json.dumps(counts, sort_keys=True, default=str)


def append(
    eng: Engine | Connection,
    *,
    rule: str,
    action: str,
    client_id: str | None = None,
    assignment_id: str | None = None,
    as_of: dt.date | None = None,
    run_id: str | None = None,
    counts: Mapping[str, object] | None = None,
) -> str:
    """Append one event and return its hash. Retries when another writer took the head."""
    event = {
        "recorded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
        "run_id": run_id,
        "client_id": client_id,
        "assignment_id": assignment_id,
        "rule": rule,
        "action": action,
        "as_of": as_of.isoformat() if as_of else None,
        "counts": _check_counts(counts or {}),
    }
    if isinstance(eng, Connection):  # caller's transaction: the event commits with the work it records
        return _append(eng, event)
    for _attempt in range(20):
        try:
            with eng.begin() as conn:
                return _append(conn, event)
        except IntegrityError:
            continue
    raise RuntimeError("audit trail: could not append after 20 attempts (concurrent writers)")


def _append(conn: Connection, event: dict) -> str:
    if conn.dialect.name == "postgresql":
        # Writers of many clients append at once, often inside their own longer transaction, where a lost
        # race for the head cannot be retried: take turns, until this transaction ends.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK})
    head = conn.execute(sa.text("SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1")).scalar()
    prev = head or GENESIS
    digest = _digest(prev, event)
    conn.execute(
        sa.text(
            "INSERT INTO audit_events (recorded_at, run_id, client_id, assignment_id, rule, action, as_of, counts, prev_hash, hash) "
            "VALUES (:recorded_at, :run_id, :client_id, :assignment_id, :rule, :action, :as_of, :counts, :prev_hash, :hash)"
        ),
        {**event, "prev_hash": prev, "hash": digest},
    )
    return digest


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_hash: str
    problems: list[str]


def _anchor_path() -> Path:
    return settings.kcm_home() / "audit" / "anchor.json"


def verify(eng: Engine, *, update_anchor: bool = True) -> ChainReport:
    """Recompute the chain; report every broken link by sequence number (R12).

    Many clients' nights verify at once: each reads the chain, compares and moves the anchor
    under one file lock, so no night compares its chain with an anchor a later reading wrote;
    the anchor is written by rename (never half-written) and only ever forward.
    """
    anchor = _anchor_path()
    anchor.parent.mkdir(parents=True, exist_ok=True)
    with (anchor.parent / "anchor.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _verify_locked(eng, anchor, update_anchor=update_anchor)


def _verify_locked(eng: Engine, anchor: Path, *, update_anchor: bool) -> ChainReport:
    problems: list[str] = []
    prev, count, last_seq = GENESIS, 0, 0
    seen: dict[int, str] = {}
    with eng.connect() as conn:
        rows = conn.execute(
            sa.text(f"SELECT seq, {', '.join(_FIELDS)}, prev_hash, hash FROM audit_events ORDER BY seq")
        )
        for row in rows.mappings():
            count += 1
            event = dict(row)
            for key in ("recorded_at", "as_of"):
                value = event[key]
                if isinstance(value, dt.datetime):
                    event[key] = value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")
                elif isinstance(value, dt.date):
                    event[key] = value.isoformat()
            if row["prev_hash"] != prev:
                problems.append(
                    f"event {row['seq']}: does not follow the event before it (an event was deleted or inserted)"
                )
            if _digest(row["prev_hash"], event) != row["hash"]:
                problems.append(f"event {row['seq']}: content does not match its hash (the event was edited)")
            prev, last_seq = row["hash"], row["seq"]
            seen[row["seq"]] = row["hash"]
    known = _read_anchor(anchor, problems)
    if known is not None and seen.get(known["seq"]) != known["hash"]:
        problems.append(
            f"event {known['seq']}: verified earlier, now missing or changed (the trail was cut or rewritten)"
        )
    if not problems and update_anchor and count and (known is None or last_seq > known["seq"]):
        partial = anchor.with_name(f".{anchor.name}.{os.getpid()}")
        partial.write_text(json.dumps({"seq": last_seq, "hash": prev}))
        os.replace(partial, anchor)
    return ChainReport(ok=not problems, events=count, head_hash=prev, problems=problems)


def _read_anchor(anchor: Path, problems: list[str]) -> dict | None:
    if not anchor.exists():
        return None
    try:
        known = json.loads(anchor.read_text())
        return {"seq": int(known["seq"]), "hash": str(known["hash"])}
    except (ValueError, KeyError, TypeError):
        problems.append(f"{anchor}: the anchor of the trail cannot be read (it was edited or damaged)")
        return None
