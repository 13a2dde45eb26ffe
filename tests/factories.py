"""Builders for realistic test input: client YAMLs."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_client(folder: Path, client_id: str = "testclient", **fields) -> Path:
    """Write a valid client YAML (override any field) and return its path."""
    doc = {
        "client_id": client_id,
        "name": f"{client_id.title()} B.V.",
        "country": "NL",
        "retention_months": 6,
        "non_respondent_months": 2,
        "ingest_schedule": "0 6 * * *",
        "destruction_requested_on": None,
        "assignments": [
            {"id": "a1", "title": "Klanttevredenheid 2026", "completed_on": "2026-06-30", "destruction_requested_on": None},
            {"id": "a2", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": None},
        ],
    }
    doc.update(fields)
    path = folder / f"{client_id}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
