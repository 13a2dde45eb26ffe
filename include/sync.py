"""Apply a client's current config to the warehouse (first step of every run)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from include import sql, terms
from include.config import ClientConfig


def apply_config(eng: Engine, client: ClientConfig) -> dict[str, int]:
    """Upsert the client and its assignments, with each assignment's term end (R2)."""
    dialect = eng.dialect.name
    with eng.begin() as conn:
        conn.execute(
            sql.statement("sync_client", dialect),
            {
                "client_id": client.client_id,
                "name": client.name,
                "country": client.country,
                "retention_months": client.retention_months,
                "non_respondent_months": client.non_respondent_months,
                "k_anonymity": client.k_anonymity,
                "open_text": client.open_text,
                "destruction_requested_on": client.destruction_requested_on,
                "synced_at": dt.datetime.now(dt.timezone.utc),
            },
        )
        rows = [
            {
                "client_id": client.client_id,
                "assignment_id": a.id,
                "title": a.title,
                "completed_on": a.completed_on,
                "destruction_requested_on": a.destruction_requested_on,
                "term_ends_on": terms.term_ends_on(a.completed_on, client.retention_months),
                "status": "running" if a.completed_on is None else "completed",
            }
            for a in client.assignments
        ]
        if rows:
            conn.execute(sql.statement("sync_assignment", dialect), rows)
    return {"assignments": len(rows)}
