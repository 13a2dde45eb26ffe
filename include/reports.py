"""R11/R12 evidence for auditors: the nightly proof report and the monthly report per client.

Reports are HTML (read by people) and JSON (read by tools), written under
KCM_HOME/reports/<client_id>/ from counts, ids, dates, rule ids and hashes only:
what the night did (from its audit events), every proof expectation with its observed
count, the audit chain's head, and per assignment whether it was anonymised or destroyed
on time. No value from a delivery is ever read into them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from include import audit, settings, sql

if TYPE_CHECKING:
    from include.config import ClientConfig
    from include.proof import Check

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"

# The rules of the privacy statement (design §3), by id: the titles reports and the register show.
RULES = {
    "R1": "EU only",
    "R2": "Term: anonymise at completion + retention months",
    "R3": "Non-respondents deleted after their term",
    "R4": "Early destruction on the client's request",
    "R5": "KCM's own data: at most 12 months",
    "R6": "Subject rights answered within one month",
    "R7": "Objection and opt-out (suppression list)",
    "R8": "Data map of every personal column and file",
    "R9": "Real anonymisation (generalisation, scrubbing, k-anonymity)",
    "R10": "No stray copies (files with terms of their own)",
    "R11": "Proof that nothing outlived its term",
    "R12": "Tamper-evident audit trail",
}
# R4 destruction is on time when the first nightly run on or after the requested day did it.
DESTRUCTION_GRACE_DAYS = 1


# --- rendering --------------------------------------------------------------------------------


def environment():
    """Jinja2 over include/templates; HTML is autoescaped, a missing variable is an error."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["RULES"] = RULES
    return env


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)


def _write(path: Path, text: str) -> Path:
    """Write atomically: an auditor never reads half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=_plain) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"reports: cannot write a {type(value).__name__} as JSON")


def _link(target: Path | str | None, page: Path) -> str | None:
    """A link from a report page to another file, relative so the reports folder can be copied whole."""
    if not target:
        return None
    return os.path.relpath(Path(target), page.parent)


def _day(value: object) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


# --- what each rule means for a client ----------------------------------------------------------


def rules_applied(client: Mapping[str, Any]) -> list[dict[str, str]]:
    """The rules a client's nights apply, each with what it means for this client's settings."""
    from include.quarantine import QUARANTINE_DAYS
    from include.retention import EXPORT_DAYS

    months = client["retention_months"]
    rules = [
        ("R2", f"personal data of an assignment is anonymised from {months} calendar month(s) after its completion"),
        (
            "R3",
            f"people who never answered are deleted {client['non_respondent_months']} month(s) after their invitation",
        ),
        (
            "R4",
            "an assignment or the whole client is deleted outright (recordings and files included) from the "
            "requested day"
            + (
                f"; whole client requested for {client['destruction_requested_on']}"
                if client.get("destruction_requested_on")
                else ""
            ),
        ),
        (
            "R9",
            f"at term birth dates become age bands, postcodes regions, direct identifiers are removed, open text is "
            f"{'dropped' if client['open_text'] == 'drop' else 'scrubbed of identifiers'}, recordings are deleted; "
            f"the anonymised set is {client['k_anonymity']}-anonymous",
        ),
        (
            "R10",
            f"raw deliveries leave the landing zone once handled; quarantined items live at most "
            f"{QUARANTINE_DAYS} days, subject-request exports {EXPORT_DAYS} days",
        ),
        ("R11", "every night ends with the proof below; a failed expectation fails the night"),
        ("R12", "every action is an event in the hash-chained audit trail"),
    ]
    if client["client_id"] == "kcm":
        rules.insert(0, ("R5", "KCM's own research: kept at most 12 months after its purpose is fulfilled"))
    return [{"rule": rule, "title": RULES[rule], "applied": text} for rule, text in rules]


def _settings(client: ClientConfig) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "country": client.country,
        "retention_months": client.retention_months,
        "non_respondent_months": client.non_respondent_months,
        "k_anonymity": client.k_anonymity,
        "open_text": client.open_text,
        "destruction_requested_on": client.destruction_requested_on,
    }


# --- the nightly report --------------------------------------------------------------------------


def client_dir(client_id: str) -> Path:
    return settings.reports_dir() / client_id


def nightly_paths(client_id: str, as_of: dt.date) -> dict[str, Path]:
    """Where the evidence of one client's night lives (report HTML and JSON, GX validation result)."""
    folder = client_dir(client_id) / "nightly"
    stem = as_of.isoformat()
    return {
        "html": folder / f"{stem}.html",
        "json": folder / f"{stem}.json",
        "validation": folder / f"{stem}.gx-validation.json",
    }


def write_nightly(
    eng: Engine,
    client: ClientConfig,
    as_of: dt.date,
    *,
    run_id: str,
    checks: Iterable[Check],
    failed: Iterable[Check],
    validation: Mapping[str, Any],
    data_docs: Path,
    chain: audit.ChainReport,
    proof_event_hash: str,
    seconds: Mapping[str, float] | None = None,
) -> dict[str, Path]:
    """R11: the auditor's report of one night (HTML and JSON) and the GX validation result beside it."""
    from include.retention import night_summary

    paths = nightly_paths(client.client_id, as_of)
    checks, failed = list(checks), list(failed)
    failed_ids = {c.check_id for c in failed}
    _write(paths["validation"], _json(validation))
    report = {
        "report": "nightly proof (R11)",
        "client": _settings(client),
        "as_of": as_of.isoformat(),
        "run_id": run_id,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "passed": not failed,
        "rules": rules_applied(_settings(client)),
        "night": night_summary(eng, client.client_id, as_of),
        "expectations": [{**c.as_dict(), "passed": c.check_id not in failed_ids} for c in checks if c.applicable],
        "not_applicable": [
            {"check_id": c.check_id, "rule": c.rule, "note": c.note} for c in checks if not c.applicable
        ],
        "failed": [
            {"check": c.check_id, "rule": c.rule, "table_or_store": c.table_or_store, "count": c.observed}
            for c in failed
        ],
        "audit_chain": {
            "verified": chain.ok,
            "events_verified": chain.events,
            "head_hash_verified": chain.head_hash,
            "proof_event_hash": proof_event_hash,
        },
        "seconds": dict(seconds or {}),
        "evidence": {
            "report_html": str(paths["html"]),
            "report_json": str(paths["json"]),
            "gx_validation": str(paths["validation"]),
            "data_docs": str(data_docs),
        },
    }
    _write(paths["json"], _json(report))
    links = {key: _link(value, paths["html"]) for key, value in report["evidence"].items()}
    _write(paths["html"], render("nightly.html.j2", report=report, links=links))
    return paths


# --- the monthly report -------------------------------------------------------------------------


def monthly_paths(client_id: str, year: int, month: int) -> dict[str, Path]:
    folder = client_dir(client_id) / "monthly"
    return {"html": folder / f"{year:04d}-{month:02d}.html", "json": folder / f"{year:04d}-{month:02d}.json"}


def monthly_report(eng: Engine, client_id: str, year: int, month: int) -> dict[str, Any]:
    """R11/R12: one client's month for an auditor: every night's proof and counts, and each assignment's term kept."""
    from include.retention import night_summary

    first = dt.date(year, month, 1)
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    params = {"client_id": client_id, "first": first, "last": last}
    dialect = eng.dialect.name
    with eng.connect() as conn:
        client = conn.execute(sql.statement("r11_client", dialect), params).mappings().first()
        if client is None:
            raise KeyError(f"client {client_id!r} is not in the warehouse; its nights have not run yet")
        proofs = conn.execute(sql.statement("r11_month_proofs", dialect), params).all()
        active_days = [_day(r.as_of) for r in conn.execute(sql.statement("r11_month_nights", dialect), params)]
        assignments = conn.execute(sql.statement("r11_assignments_report", dialect), params).mappings().all()
        events = conn.execute(sql.statement("r11_assignment_events", dialect), params).all()
    client = dict(client)
    paths = monthly_paths(client_id, year, month)

    latest_proof: dict[dt.date, Any] = {}
    for proof in proofs:
        latest_proof[_day(proof.as_of)] = proof  # a retried night counts by its last proof
    summaries = {day: night_summary(eng, client_id, day) for day in active_days}
    nights = []
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        proof, summary = latest_proof.get(day), summaries.get(day)
        counts = json.loads(proof.counts) if proof else {}
        report = nightly_paths(client_id, day)["html"]
        nights.append(
            {
                "as_of": day.isoformat(),
                "proof": "no proof recorded" if proof is None else proof.action.removeprefix("proof_"),
                "run_id": proof.run_id if proof else None,
                "expectations": counts.get("expectations"),
                "failed": counts.get("failed"),
                "failed_checks": counts.get("failed_checks", {}),
                "proof_event_hash": proof.hash if proof else None,
                "rows": (summary or {}).get("rows", {}),
                "files": (summary or {}).get("files", {}),
                "rules": sorted((summary or {}).get("rules", {})),
                "report": _link(report, paths["html"]) if report.exists() else None,
            }
        )

    evidence: dict[str, dict] = {}
    client_destroyed = None
    for event in events:
        if event.action == "client_destroyed":
            client_destroyed = {"as_of": _day(event.as_of).isoformat(), "seq": event.seq, "hash": event.hash}
        elif event.assignment_id:
            evidence[event.assignment_id] = {
                "rule": event.rule,
                "action": event.action,
                "as_of": _day(event.as_of).isoformat(),
                "run_id": event.run_id,
                "seq": event.seq,
                "hash": event.hash,
            }
    rows = [_assignment_row(dict(a), client, last, evidence.get(a["assignment_id"])) for a in assignments]
    chain = audit.verify(eng, update_anchor=False)
    report = {
        "report": "monthly retention report (R11, R12)",
        "client": {
            key: client[key]
            for key in (
                "client_id",
                "name",
                "country",
                "retention_months",
                "non_respondent_months",
                "k_anonymity",
                "open_text",
            )
        },
        "month": f"{year:04d}-{month:02d}",
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rules": rules_applied(client),
        "nights": nights,
        "totals": {
            "nights_passed": sum(n["proof"] == "passed" for n in nights),
            "nights_failed": sum(n["proof"] == "failed" for n in nights),
            "nights_without_proof": sum(n["proof"] == "no proof recorded" for n in nights),
            "rows": _sum(n["rows"] for n in nights),
            "files": _sum(n["files"] for n in nights),
        },
        "assignments": rows,
        "client_destroyed": client_destroyed,
        "audit_chain": {"verified": chain.ok, "events_verified": chain.events, "head_hash": chain.head_hash},
    }
    _write(paths["json"], _json(report))
    _write(paths["html"], render("monthly.html.j2", report=report))
    log.info("%s: monthly report %s written: %s, %s", client_id, report["month"], paths["html"], paths["json"])
    return {
        "html": str(paths["html"]),
        "json": str(paths["json"]),
        "nights": len(latest_proof),
        "assignments": len(rows),
    }


def _sum(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))


def _assignment_row(row: dict, client: Mapping[str, Any], month_end: dt.date, event: dict | None) -> dict:
    """One assignment's term and what happened at it; on time: anonymised on or before its term end (R2),
    or destroyed by the first night on or after the requested day (R4)."""
    for key in ("completed_on", "term_ends_on", "anonymised_on", "destruction_requested_on", "destroyed_on"):
        row[key] = _day(row[key])
    requested = [d for d in (row["destruction_requested_on"], _day(client.get("destruction_requested_on"))) if d]
    requested_on = min(requested) if requested else None
    status, on_time, days_late = row["status"], None, None
    if status == "destroyed" and row["destroyed_on"]:
        due = requested_on or row["destroyed_on"]
        days_late = max(0, (row["destroyed_on"] - due).days - DESTRUCTION_GRACE_DAYS)
        on_time = days_late == 0
        outcome = f"destroyed on {row['destroyed_on']} (R4)"
    elif status == "anonymised" and row["anonymised_on"]:
        days_late = max(0, (row["anonymised_on"] - row["term_ends_on"]).days) if row["term_ends_on"] else 0
        on_time = days_late == 0
        outcome = f"anonymised on {row['anonymised_on']} (R2)"
    elif row["term_ends_on"] is None:
        outcome = "running: no term yet"
    elif row["term_ends_on"] <= month_end:
        on_time = False
        outcome = f"term ended {row['term_ends_on']}: not anonymised by the end of the month"
    else:
        outcome = f"within term until {row['term_ends_on']}"
    return {
        **{key: value.isoformat() if isinstance(value, dt.date) else value for key, value in row.items()},
        "destruction_due_on": requested_on.isoformat() if requested_on else None,
        "outcome": outcome,
        "on_time": on_time,
        "days_late": days_late,
        "audit_event": event,
    }
