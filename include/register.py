"""R8: the register of processing (GDPR art. 30(2), KCM as processor), rendered from the data map and client configs.

Per client (controller): the categories of personal data, where each lives (table and
column, file store), the term and the treatment at term. Nothing here is typed by hand
per client: a new column in the data map or a new client config shows up on the next render.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from include import data_map, settings
from include.config import ClientConfig, ConfigError

# The processor, as the privacy statement names it (§1a).
PROCESSOR = {
    "name": "De Klantcontact Monitor B.V.",
    "address": "Frans Halslaan 23D, 1231 BB Loosdrecht, the Netherlands",
    "chamber_of_commerce": "56688490",
    "data_protection_officer": "functionaris gegevensbescherming, privacy@kcmsurvey.nl",
}
PROCESSING = (
    "customer-satisfaction surveys on the controller's behalf: inviting the controller's customers, collecting "
    "their answers and call recordings, reporting results; personal data anonymised or deleted at term"
)
TREATMENTS = {
    "keep": "kept (not identifying alone)",
    "remove": "removed",
    "age_band": "generalised to an age band",
    "region": "generalised to a region (postcode area)",
    "day": "reduced to the calendar day",
    "month": "reduced to the month",
    "delete_file": "file deleted",
}
# Technical and organisational measures (art. 30(2)(d), art. 32(1)), each traced to the rule it implements.
MEASURES = [
    ("R1", "only controllers in EU member states; data stays in the EU"),
    ("R2", "personal data anonymised automatically at the end of the agreed term"),
    (
        "R9",
        "anonymisation removes direct identifiers, generalises quasi-identifiers, scrubs open text, deletes "
        "recordings, and enforces k-anonymity of each controller's anonymised set",
    ),
    (
        "R10",
        "personal data only in the warehouse and the recordings store; deleted data overwritten (SQLite "
        "secure_delete, PostgreSQL VACUUM); raw, quarantined and exported files have short terms of their own",
    ),
    ("R7", "objections kept as keyed hashes (HMAC-SHA256), never as plain identifiers"),
    ("R11", "every night proves that no personal data outlived its term; a failed proof alerts the data team"),
    ("R12", "every action recorded in an append-only, hash-chained audit trail without personal data"),
    ("", "secrets only through Airflow connections or environment variables; no default credentials deployed"),
]


def _treatment(code: str, client: ClientConfig) -> str:
    if code == "scrub_text":
        return "dropped" if client.open_text == "drop" else "scrubbed of identifiers (names, contact details, numbers)"
    return TREATMENTS[code]


def _term(entry: data_map.ColumnEntry, client: ClientConfig, tables: Sequence[str]) -> str:
    if entry.table not in tables:
        return "kept as long as the purpose in the note requires; holds no plain identifier"
    if entry.treatment == "keep":
        return (
            "kept after anonymisation, in a k-anonymous set (R9)"
            if entry.quasi_identifier
            else ("kept after anonymisation (not identifying alone)")
        )
    return (
        f"{client.retention_months} month(s) after completion (R2); if never answered, "
        f"{client.non_respondent_months} month(s) after invitation (R3)"
    )


def client_entry(client: ClientConfig, mapping: data_map.DataMap | None = None) -> dict[str, Any]:
    """One controller's part of the register: categories of personal data, where they live, term and treatment."""
    from include import terms
    from include.proof import assignment_tables

    mapping = mapping or data_map.load()
    tables = assignment_tables(mapping)
    categories: dict[str, dict[str, Any]] = {}
    for entry in mapping.columns:
        if not entry.personal:
            continue
        category = categories.setdefault(
            entry.category,
            {"category": entry.category, "description": mapping.categories[entry.category], "columns": [], "files": []},
        )
        category["columns"].append(
            {
                "where": f"{entry.table}.{entry.column}",
                "treatment": _treatment(entry.treatment, client),
                "term": _term(entry, client, tables),
                "note": entry.note,
            }
        )
    for kind in mapping.files:
        for name in kind.categories:
            category = categories.setdefault(
                name, {"category": name, "description": mapping.categories[name], "columns": [], "files": []}
            )
            category["files"].append(
                {
                    "kind": kind.kind,
                    "where": kind.location.replace("<client_id>", client.client_id),
                    "treatment": _treatment(kind.treatment, client),
                    "term": kind.term,
                }
            )
    return {
        "client_id": client.client_id,
        "name": client.name,
        "country": client.country,
        "processing": PROCESSING if client.client_id != "kcm" else "KCM's own research (R5): KCM is the controller",
        "retention_months": client.retention_months,
        "non_respondent_months": client.non_respondent_months,
        "k_anonymity": client.k_anonymity,
        "open_text": client.open_text,
        "destruction_requested_on": client.destruction_requested_on.isoformat()
        if client.destruction_requested_on
        else None,
        "assignments": [
            {
                "id": a.id,
                "title": a.title,
                "completed_on": a.completed_on.isoformat() if a.completed_on else None,
                "term_ends_on": t.isoformat()
                if (t := terms.term_ends_on(a.completed_on, client.retention_months))
                else None,
                "destruction_requested_on": a.destruction_requested_on.isoformat()
                if a.destruction_requested_on
                else None,
            }
            for a in client.assignments
        ],
        "categories": sorted(categories.values(), key=lambda c: list(mapping.categories).index(c["category"])),
    }


def build(clients: Sequence[ClientConfig], errors: Sequence[ConfigError] = ()) -> dict[str, Any]:
    """The whole register: the processor, its measures, and one entry per controller."""
    mapping = data_map.load()
    return {
        "title": "Register of processing activities (GDPR art. 30(2)) — KCM as processor",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "processor": PROCESSOR,
        "transfers": "none outside the EU: every controller is in an EU member state (R1) and the data stays in "
        "the warehouse and the recordings store in the EU",
        "measures": [{"rule": rule, "measure": text} for rule, text in MEASURES],
        "clients": [client_entry(client, mapping) for client in clients],
        "config_errors": [error.path.name for error in errors],
    }


def render_html(register: dict[str, Any]) -> str:
    from include.reports import render

    return render("register.html.j2", register=register)


def render_markdown(register: dict[str, Any]) -> str:
    from include.reports import render

    return render("register.md.j2", register=register)


def write(folder: Path | None = None, clients_folder: Path | None = None) -> dict[str, Path]:
    """Render the register of every valid client config to <folder>/register.{html,md} (default KCM_HOME/reports)."""
    from include import config
    from include.reports import _write

    clients, errors = config.load_clients(clients_folder)
    register = build(clients, errors)
    folder = folder or settings.reports_dir()
    return {
        "html": _write(folder / "register.html", render_html(register)),
        "md": _write(folder / "register.md", render_markdown(register)),
    }
