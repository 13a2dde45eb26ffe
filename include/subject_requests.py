"""Data-subject requests (R6, R7): access, export, rectification, erasure and objection, each due in one month.

A request names a person by any of e-mail, phone, respondent_ref or customer number,
normalised as the ingest stores them (include.identifiers), in one client or in all.
Bad input is refused by `parse` before anything changes. The warehouse records the
request with its due date (receipt + 1 calendar month) under a keyed hash of the
identifiers, never the values; the values live only in the request's Airflow run
conf, which scripts/purge_airflow_metadata.py removes after a fixed number of days.

Logs, XCom, audit events, errors and the outcome carry request ids, client ids,
identifier kinds, field names and counts only.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include import audit, data_map, exports, identifiers, settings, sql, suppression, terms
from include.config import ClientConfig
from include.ingest import contract

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

REQUEST_TYPES = ("access", "export", "rectification", "erasure", "objection")
RULES = {"access": "R6", "export": "R6", "rectification": "R6", "erasure": "R6", "objection": "R7"}
ALL_CLIENTS = suppression.ALL_CLIENTS
ALL_CLIENTS_CHOICE = "all"
# Requests that change what is held: carried out under the leases of the clients in scope.
CHANGING_TYPES = frozenset({"rectification", "erasure", "objection"})
DUE_MONTHS = 1
DEFAULT_COUNTRY = identifiers.DEFAULT_COUNTRY
# Warn the data team this many days before a request falls due.
DUE_SOON_DAYS = 7
# Keys a client issues identify a person only inside that client.
CLIENT_KEYS = ("respondent_ref", "customer_number")
FIELDS = ("client", "request_type", *suppression.KINDS, "received_on", "new_values")
REMOVED = "[verwijderd]"
# Columns the pipeline counts terms from or derives; a person's rectification does not move them.
_NOT_RECTIFIABLE_CATEGORIES = frozenset({"invitation", "derived", "none"})
_IDENTIFIER_LABELS = {
    "email": "an e-mail address (name@example.nl)",
    "phone": "a phone number (06-12345678, +31 20 1234567)",
    "respondent_ref": "a respondent_ref",
    "customer_number": "a customer number",
}
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")


class RequestError(ValueError):
    """Input the data team must correct; the message names the fields and the fix, never a value."""


class RequestsOverdue(RuntimeError):
    """R6: requests open past their due date."""


# --- the request ----------------------------------------------------------------------


@functools.cache
def rectifiable_fields() -> dict[str, contract.Column]:
    """R6: the data map's personal columns of respondents and responses, minus keys and term dates."""
    mapping = data_map.load()
    fields = {}
    for table in ("respondents", "responses"):
        for entry in mapping.personal_columns(table):
            if entry.column == "respondent_ref" or entry.category in _NOT_RECTIFIABLE_CATEGORIES:
                continue
            column = contract.BY_NAME.get(entry.column)
            if column is None:  # not a delivered column: no ingest rule to validate it with
                continue
            fields[entry.column] = column
    return fields


@dataclass(frozen=True)
class SubjectRequest:
    """A validated request. Identifiers and new values are normalised; repr shows names only."""

    request_type: str
    client_scope: str
    identifiers: Mapping[str, str] = field(repr=False)
    received_on: dt.date
    new_values: Mapping[str, object] = field(default_factory=dict, repr=False)
    country: str = DEFAULT_COUNTRY

    @property
    def rule(self) -> str:
        return RULES[self.request_type]

    @property
    def due_on(self) -> dt.date:
        return terms.add_months(self.received_on, DUE_MONTHS)

    @property
    def identifier_kinds(self) -> list[str]:
        return suppression.kinds_present(self.identifiers)

    @property
    def client_id(self) -> str | None:
        return None if self.client_scope == ALL_CLIENTS else self.client_scope

    def summary(self) -> dict[str, object]:
        """What may be shown anywhere (XCom, logs): kinds and names, never values."""
        return {
            "request_type": self.request_type,
            "client_scope": self.client_scope,
            "identifier_kinds": self.identifier_kinds,
            "received_on": self.received_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "fields": sorted(self.new_values),
        }


def _given(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _name(value: object) -> str:
    """A field name as typed, when it looks like one; never echo what could be a value."""
    return repr(value) if isinstance(value, str) and _NAME.match(value) else "a field name that is not a column"


def parse(conf: Mapping[str, object], *, as_of: dt.date, clients: Sequence[ClientConfig]) -> SubjectRequest:
    """R6: validate a trigger form or --conf; raises RequestError listing every problem, before anything changes."""
    problems: list[str] = []
    by_id = {c.client_id: c for c in clients}
    for key in conf:
        if key not in FIELDS:
            problems.append(f"{_name(key)}: not a field of a subject request (fields: {', '.join(FIELDS)})")

    client = _given(conf.get("client")) or ALL_CLIENTS_CHOICE
    scope = ALL_CLIENTS if client in (ALL_CLIENTS_CHOICE, ALL_CLIENTS) else client
    if scope != ALL_CLIENTS and scope not in by_id:
        problems.append(f"client: not a known client; use 'all' or one of: {', '.join(sorted(by_id)) or '(none)'}")
    country = by_id[scope].country if scope in by_id else identifiers.DEFAULT_COUNTRY

    request_type = _given(conf.get("request_type"))
    if request_type not in REQUEST_TYPES:
        problems.append(f"request_type: {'missing' if request_type is None else 'unknown'}; use one of: "
                        f"{', '.join(REQUEST_TYPES)}")  # fmt: skip

    found: dict[str, str] = {}
    for kind in suppression.KINDS:
        raw = _given(conf.get(kind))
        if raw is None:
            continue
        if scope == ALL_CLIENTS and kind in CLIENT_KEYS:
            problems.append(f"{kind}: a client's key identifies a person only within that client; "
                            "choose the client, or use e-mail or phone for all clients")  # fmt: skip
            continue
        value = suppression.normalise(kind, raw, country)
        if value is None:
            problems.append(f"{kind}: not {_IDENTIFIER_LABELS[kind]}")
        else:
            found[kind] = value
    if not any(_given(conf.get(kind)) for kind in suppression.KINDS):
        problems.append("identifiers: give at least one of email, phone, respondent_ref, customer_number")

    received_on = _received_on(conf.get("received_on"), as_of, problems)
    new_values = _new_values(conf.get("new_values"), request_type, country, as_of, problems)

    try:
        suppression.secret()
    except suppression.SecretMissing as exc:
        problems.append(str(exc))

    if problems:
        raise RequestError("subject request refused, nothing was changed:\n  - " + "\n  - ".join(problems))
    return SubjectRequest(request_type, scope, found, received_on, new_values, country)


def _received_on(raw: object, as_of: dt.date, problems: list[str]) -> dt.date:
    if isinstance(raw, dt.date):
        received = raw
    else:
        text = _given(raw)
        try:
            received = dt.date.fromisoformat(text) if text and len(text) == 10 else None
        except ValueError:
            received = None
        if received is None:
            problems.append("received_on: give the day the request was received as YYYY-MM-DD")
            return as_of
    if received > as_of:
        problems.append(f"received_on: after the day this request is handled ({as_of.isoformat()})")
    return received


def _new_values(raw: object, request_type: str | None, country: str, as_of: dt.date,
                problems: list[str]) -> dict[str, object]:  # fmt: skip
    if isinstance(raw, str) and raw.strip():
        try:
            raw = json.loads(raw)
        except ValueError:
            problems.append('new_values: not a JSON object; write {"field": "new value", ...}')
            return {}
    if raw in (None, "", {}):
        if request_type == "rectification":
            problems.append(f"new_values: give the fields to correct; rectifiable: {', '.join(rectifiable_fields())}")
        return {}
    if not isinstance(raw, Mapping):
        problems.append('new_values: not a JSON object; write {"field": "new value", ...}')
        return {}
    if request_type != "rectification":
        problems.append("new_values: only a rectification request takes new values")
        return {}
    allowed = rectifiable_fields()
    values: dict[str, object] = {}
    for name, value in raw.items():
        column = allowed.get(name)
        if column is None:
            problems.append(f"new_values: {_name(name)} cannot be rectified; rectifiable: {', '.join(allowed)}")
            continue
        checked = _checked_value(column, _given(value), country, as_of)
        if isinstance(checked, _Invalid):
            problems.append(f"new_values.{name}: {checked.reason}")
        else:
            values[name] = checked
    return values


@dataclass(frozen=True)
class _Invalid:
    reason: str


def _checked_value(column: contract.Column, value: str | None, country: str, as_of: dt.date) -> object:
    """A new value checked and normalised with the ingest's rules (include.ingest.contract, include.identifiers)."""
    if value is None:
        return None  # rectification may also clear a field
    if column.kind == "email":
        return identifiers.normalise_email(value) or _Invalid("not an e-mail address")
    if column.kind == "phone":
        return identifiers.normalise_phone(value, country) or _Invalid(f"not a phone number of {country} or E.164")
    if column.kind == "postcode":
        return identifiers.normalise_postcode(value, country) or _Invalid(f"not a postcode of {country}")
    if column.kind == "date":
        try:
            day = dt.date.fromisoformat(value) if re.match(contract.DATE_PATTERN, value) else None
        except ValueError:
            day = None
        if day is None:
            return _Invalid("not a date; write YYYY-MM-DD")
        if column.name == "birth_date" and not (dt.date(1900, 1, 1) <= day <= as_of):
            return _Invalid("outside 1900-01-01 .. today")
        return day
    if column.kind == "ip":
        return value if re.match(contract.IP_PATTERN, value) else _Invalid("not an IPv4 or IPv6 address")
    if column.max_length and len(value) > column.max_length:
        return _Invalid(f"longer than {column.max_length} characters")
    return value


def request_id_for(run_id: str, as_of: dt.date) -> str:
    """A stable id per Airflow run, so a retried task records its request once."""
    return f"sr-{as_of:%Y%m%d}-{hashlib.sha256(run_id.encode()).hexdigest()[:10]}"


def _subject_hash(request: SubjectRequest) -> str:
    joined = "|".join(f"{kind}={request.identifiers[kind]}" for kind in request.identifier_kinds)
    return suppression.keyed_hash("subject", joined)


def record(eng: Engine, request: SubjectRequest, *, run_id: str, as_of: dt.date) -> str:
    """R6: record the request with its due date (receipt + 1 calendar month); returns its request id."""
    request_id = request_id_for(run_id, as_of)
    with eng.begin() as conn:
        inserted = conn.execute(
            sql.statement("r6_record_request", conn.dialect.name),
            {
                "request_id": request_id,
                "request_type": request.request_type,
                "client_scope": request.client_scope,
                "received_on": request.received_on,
                "due_on": request.due_on,
                "identifier_kinds": ",".join(request.identifier_kinds),
                "subject_hmac": _subject_hash(request),
                "fields": ",".join(sorted(request.new_values)) or None,
                "run_id": run_id,
                "recorded_at": dt.datetime.now(dt.UTC),
            },
        ).rowcount
        if inserted:
            audit.append(conn, rule=request.rule, action="request_recorded", client_id=request.client_id,
                         as_of=as_of, run_id=run_id, counts={"request_id": request_id, **request.summary()})  # fmt: skip
    log.info("%s: %s request recorded for %s (identifiers: %s), received %s, due %s", request_id,
             request.request_type, _scope_text(request.client_scope), ", ".join(request.identifier_kinds),
             request.received_on, request.due_on)  # fmt: skip
    return request_id


def _scope_text(scope: str) -> str:
    return "all clients" if scope == ALL_CLIENTS else f"client {scope}"


# --- statements ------------------------------------------------------------------------------


@functools.cache
def _statement(name: str, dialect: str, **parts: str) -> sa.TextClause:
    text = sql.statement(name, dialect).text
    clause = sa.text(text.format(**parts) if parts else text)
    return clause.bindparams(sa.bindparam("ids", expanding=True)) if ":ids" in text else clause


def _run(conn: Connection, name: str, params: Mapping[str, object] | None = None, **parts: str):
    return conn.execute(_statement(name, conn.dialect.name, **parts), dict(params or {}))


# --- who the request is about ----------------------------------------------------------------


@dataclass
class _Match:
    """The matched people of one client: respondent ids and the identifiers the warehouse holds for them."""

    client_id: str
    ids: list[int] = field(default_factory=list)
    refs: set[str] = field(default_factory=set)
    pairs: set[tuple[str, str]] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    customer_numbers: set[str] = field(default_factory=set)

    @property
    def people(self) -> int:
        """Distinct people: one client key (respondent_ref) across assignments is one person."""
        return len(self.refs) or len(self.ids)


def _match(conn: Connection, request: SubjectRequest) -> dict[str, _Match]:
    params = {"client_id": request.client_id, **{kind: request.identifiers.get(kind) for kind in suppression.KINDS}}
    found: dict[str, _Match] = {}
    for row in _run(conn, "r6_match_respondents", params):
        match = found.setdefault(row.client_id, _Match(row.client_id))
        match.ids.append(row.id)
        ref = suppression.normalise_key(row.respondent_ref)
        if ref:
            match.refs.add(ref)
            match.pairs.add((row.assignment_id, ref))
        if row.email:
            match.emails.add(row.email.lower())
        if row.phone:
            match.phones.add(row.phone)
        number = suppression.normalise_key(row.customer_number)
        if number:
            match.customer_numbers.add(number)
    return found


def _countries(conn: Connection, clients: Sequence[ClientConfig]) -> dict[str, str]:
    countries = {client_id: country for client_id, country in _run(conn, "r6_client_countries")}
    countries.update({c.client_id: c.country for c in clients})
    return countries


def _clients_in_scope(
    request: SubjectRequest, countries: Mapping[str, str], matches: Mapping[str, _Match]
) -> list[str]:
    """Clients whose warehouse rows or files may hold the person."""
    if request.client_id:
        return [request.client_id]
    quarantined = settings.kcm_home() / "quarantine"
    folders = {p.name for p in quarantined.iterdir() if p.is_dir()} if quarantined.is_dir() else set()
    return sorted(set(countries) | set(matches) | folders)


class _Needles:
    """The person's identifiers, to find them in files and open text (never logged)."""

    def __init__(self, request: SubjectRequest, match: _Match | None, country: str) -> None:
        given = request.identifiers
        emails = {given["email"]} if "email" in given else set()
        phones = {given["phone"]} if "phone" in given else set()
        keys = {given[k] for k in CLIENT_KEYS if k in given}
        self.pairs: set[tuple[str, str]] = set()
        if match is not None:
            emails |= match.emails
            phones |= match.phones
            keys |= match.customer_numbers
            self.pairs = set(match.pairs)
        self.emails, self.phones, self.keys = emails, phones, keys
        patterns = [rf"(?<![\w.+-]){re.escape(e)}(?![\w-])" for e in sorted(emails)]
        patterns += [rf"(?<![A-Za-z0-9]){re.escape(k)}(?![A-Za-z0-9])" for k in sorted(keys)]
        patterns += [_phone_pattern(p) for p in sorted(phones)]
        self._regex = re.compile("|".join(patterns), re.IGNORECASE) if patterns else None

    def __repr__(self) -> str:
        return f"_Needles({len(self.emails)} e-mail, {len(self.phones)} phone, {len(self.keys)} key)"

    def __bool__(self) -> bool:
        return self._regex is not None or bool(self.pairs)

    def mentions(self, text: str) -> bool:
        return bool(self._regex and self._regex.search(text))

    def scrub(self, text: str) -> str:
        return self._regex.sub(REMOVED, text) if self._regex else text

    def row_mentions(self, header: Sequence[str], cells: Sequence[str]) -> bool:
        """A delivered row names the person: an identifier anywhere in it, or the person's (assignment, ref)."""
        if self.mentions("\n".join(cells)):
            return True
        if self.pairs and "assignment_id" in header and "respondent_ref" in header:
            a, r = header.index("assignment_id"), header.index("respondent_ref")
            if max(a, r) < len(cells):
                return (cells[a].strip(), suppression.normalise_key(cells[r]) or "") in self.pairs
        return False

    def like_patterns(self) -> list[str]:
        """LIKE prefilters on lower-cased text: whole e-mails and keys, a phone's last six digits."""
        needles = {e.lower() for e in self.emails} | {k.lower() for k in self.keys} | {p[-6:] for p in self.phones}
        return [f"%{needle}%" for needle in sorted(needles)]


def _phone_pattern(e164: str) -> str:
    """A phone number as people write it: national digits with any separators, after a trunk 0 or country code."""
    code = next(
        (c for c, _trunk in sorted(identifiers.CALLING_CODES.values(), key=lambda ct: -len(ct[0]))
         if e164.startswith("+" + c)),
        "",
    )  # fmt: skip
    national = e164[1 + len(code) :]
    digits = r"[\s\-./()]{0,3}".join(re.escape(d) for d in national)
    before = [r"(?<!\d)", r"(?<=0)"]
    if code:
        before += [rf"(?<={code})", rf"(?<={code} )", rf"(?<={code}-)", r"(?<=\(0\))", r"(?<=\(0\) )"]
    return f"(?:{'|'.join(before)}){digits}(?!\\d)"


# --- carrying a request out --------------------------------------------------------------------


def carry_out(
    eng: Engine,
    request: SubjectRequest,
    request_id: str,
    *,
    run_id: str,
    as_of: dt.date,
    clients: Sequence[ClientConfig] = (),
) -> dict:
    """R6/R7: answer one recorded request and mark it done; returns counts (safe for XCom)."""
    with eng.connect() as conn:
        recorded = _run(conn, "r6_request", {"request_id": request_id}).mappings().first()
        if recorded is None:
            raise RequestError(f"{request_id}: no such request in the warehouse; run record_request first")
        if recorded["status"] == "done":  # a retried task: the answer stands
            return {"request_id": request_id, "status": "done", **json.loads(recorded["outcome"])}
        matches = _match(conn, request)
        countries = _countries(conn, clients)
    found = {"clients_matched": len(matches), "people": sum(m.people for m in matches.values()),
             "respondents": sum(len(m.ids) for m in matches.values())}  # fmt: skip
    earlier = json.loads(recorded["outcome"] or "{}")
    if earlier.get("respondents", 0) > found["respondents"]:
        found = {key: earlier[key] for key in found}  # a retry after an erasure that had started
    else:
        with eng.begin() as conn:
            _run(conn, "r6_request_matched", {"request_id": request_id, "outcome": json.dumps(found)})
    handler = {
        "access": _answer_access,
        "export": _answer_access,
        "rectification": _rectify,
        "erasure": _erase,
        "objection": _erase,
    }[request.request_type]
    per_client, export_path = handler(
        eng, request, request_id, matches, countries=countries, run_id=run_id, as_of=as_of
    )
    outcome = {"matched": found["respondents"] > 0, **found, "clients": per_client}
    _complete(eng, request, request_id, outcome, export_path, run_id=run_id, as_of=as_of)
    if outcome["matched"]:
        log.info("%s: %s done: %d people (%d records) in %d client(s)", request_id, request.request_type,
                 outcome["people"], outcome["respondents"], outcome["clients_matched"])  # fmt: skip
    else:
        log.info("%s: %s done: the request matches nobody in %s", request_id, request.request_type,
                 _scope_text(request.client_scope))  # fmt: skip
    return {"request_id": request_id, "status": "done", **outcome, **({"export": export_path} if export_path else {})}


def _complete(eng: Engine, request: SubjectRequest, request_id: str, outcome: Mapping[str, object],
              export_path: str | None, *, run_id: str, as_of: dt.date) -> None:  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    with eng.begin() as conn:
        if request.request_type in ("erasure", "objection"):
            for kind, digest in suppression.hashes_of(request.identifiers).items():
                _run(conn, "r6_erased_subject_insert", {"request_id": request_id, "identifier_kind": kind,
                                                        "identifier_hmac": digest,
                                                        "client_scope": request.client_scope, "erased_at": now})  # fmt: skip
        _run(conn, "r6_complete_request", {"request_id": request_id, "completed_at": now, "completed_on": as_of,
                                           "outcome": json.dumps(outcome, sort_keys=True),
                                           "export_path": export_path})  # fmt: skip
        audit.append(conn, rule=request.rule, action="request_completed" if outcome["matched"] else "request_no_match",
                     client_id=request.client_id, as_of=as_of, run_id=run_id,
                     counts={"request_id": request_id, "request_type": request.request_type,
                             "clients_matched": outcome["clients_matched"], "people": outcome["people"],
                             "respondents": outcome["respondents"], "days_to_due": (request.due_on - as_of).days})  # fmt: skip


# --- access and export ----------------------------------------------------------------------------


def _answer_access(eng: Engine, request: SubjectRequest, request_id: str, matches: Mapping[str, _Match], *,
                   countries: Mapping[str, str], run_id: str, as_of: dt.date) -> tuple[dict, str]:  # fmt: skip
    """R6 (GDPR art. 15, 20): everything held about the person, per client, as JSON and CSV; export adds the files."""
    with_files = request.request_type == "export"
    tables: dict[str, list[dict]] = defaultdict(list)
    document: dict[str, object] = {
        "request_id": request_id,
        "request_type": request.request_type,
        "received_on": request.received_on,
        "written_on": as_of,
        "controllers": {},
    }
    files: list[tuple[str, str]] = []
    per_client: dict[str, dict] = {}
    for client_id in _clients_in_scope(request, countries, matches):
        match = matches.get(client_id)
        needles = _Needles(request, match, countries.get(client_id, request.country))
        quarantined = _quarantine(client_id, needles, erase=False)
        if match is None and not quarantined.rows_found:
            continue
        held: dict[str, list[dict]] = {}
        if match is not None:
            with eng.connect() as conn:
                for table in ("respondents", "responses", "recordings", "deliveries"):
                    held[table] = [dict(r) for r in _run(conn, f"r6_subject_{table}", {"ids": match.ids}).mappings()]
        held["quarantined_rows"] = quarantined.rows_found
        for table, rows in held.items():
            tables[table] += rows
        if with_files:
            for recording in held.get("recordings", []):
                if recording["state"] == "stored":
                    name = f"{client_id}_{recording['assignment_id']}_{recording['id']}.wav"
                    files.append((name, recording["stored_path"]))
        document["controllers"][client_id] = held
        per_client[client_id] = {
            "respondents": len(held.get("respondents", [])),
            "responses": len(held.get("responses", [])),
            "recordings": len(held.get("recordings", [])),
            "quarantined_rows": len(quarantined.rows_found),
        }
    written = exports.write(request_id, request.request_type, tables, document=document, recordings=files,
                            written_on=as_of)  # fmt: skip
    export_path = f"exports/{request_id}"
    for client_id, counts in per_client.items():
        audit.append(eng, rule=request.rule, action=f"subject_{request.request_type}_written", client_id=client_id,
                     as_of=as_of, run_id=run_id, counts={"request_id": request_id, "rows": counts})  # fmt: skip
    log.info("%s: %s written to %s: %d rows, %d files (%d recordings); deleted after %d days", request_id,
             request.request_type, export_path, written["rows"], written["files"], written["recordings"],
             exports.TERM_DAYS)  # fmt: skip
    return per_client, export_path


# --- rectification --------------------------------------------------------------------------------


def _rectify(eng: Engine, request: SubjectRequest, request_id: str, matches: Mapping[str, _Match], *,
             countries: Mapping[str, str], run_id: str, as_of: dt.date) -> tuple[dict, None]:  # fmt: skip
    """R6 (GDPR art. 16): set the given fields on every matching record; the audit names the fields, not values."""
    fields = rectifiable_fields()
    params: dict[str, object] = {}
    for name in fields:
        params[f"set_{name}"] = name in request.new_values
        params[name] = request.new_values.get(name)
    tables = {fields[name].table for name in request.new_values}
    per_client = {}
    for client_id, match in sorted(matches.items()):
        counts = {"respondents": 0, "responses": 0}
        with eng.begin() as conn:
            for table in sorted(tables):
                counts[table] = _run(conn, f"r6_rectify_{table}", {**params, "ids": match.ids}).rowcount
            audit.append(conn, rule=request.rule, action="subject_rectified", client_id=client_id, as_of=as_of,
                         run_id=run_id, counts={"request_id": request_id, "fields": sorted(request.new_values),
                                                "rows": counts})  # fmt: skip
        per_client[client_id] = {**counts, "fields": sorted(request.new_values)}
        log.info("%s: %s: rectified %s on %d respondent and %d response records", request_id, client_id,
                 ", ".join(sorted(request.new_values)), counts["respondents"], counts["responses"])  # fmt: skip
    return per_client, None


# --- erasure and objection ---------------------------------------------------------------------------


def _erase(eng: Engine, request: SubjectRequest, request_id: str, matches: Mapping[str, _Match], *,
           countries: Mapping[str, str], run_id: str, as_of: dt.date) -> tuple[dict, None]:  # fmt: skip
    """R6 (GDPR art. 17) / R7: delete every record, recording and stray copy of the person.

    Order matters for a crash: the suppression entry first (a delivery in between
    cannot bring the person back), then the files found through the warehouse rows
    (while those still tell which rows are the person's), then recordings (marked,
    files, rows), then the rows. Every step can run again.
    """
    from include import retention

    if request.request_type == "objection":
        with eng.begin() as conn:
            added = suppression.add(conn, client_scope=request.client_scope,
                                    hashes=suppression.hashes_of(request.identifiers), request_id=request_id,
                                    added_on=as_of)  # fmt: skip
            audit.append(conn, rule="R7", action="suppression_listed", client_id=request.client_id, as_of=as_of,
                         run_id=run_id, counts={"request_id": request_id, "entries": added,
                                                "identifier_kinds": request.identifier_kinds})  # fmt: skip
    scope = _clients_in_scope(request, countries, matches)
    needles = {c: _Needles(request, matches.get(c), countries.get(c, request.country)) for c in scope}
    per_client: dict[str, dict] = {}
    for client_id in scope:
        found = _quarantine(client_id, needles[client_id], erase=True)
        if found.changed:
            _record_quarantine(eng, found, as_of=as_of)
        per_client[client_id] = {"quarantine_files_deleted": len(found.deleted),
                                 "quarantine_rows_removed": found.rows_removed}  # fmt: skip
    removed_exports = exports.remove_mentioning(lambda text: any(n.mentions(text) for n in needles.values()))
    for client_id in scope:
        match = matches.get(client_id)
        counts = per_client[client_id]
        if match is not None:
            with eng.begin() as conn:
                _run(conn, "r6_mark_recordings_deleting", {"rule": request.rule, "ids": match.ids})
            recordings = retention.finish_deletions(eng, client_id, as_of=as_of, run_id=run_id)
            with eng.begin() as conn:
                responses = len(_run(conn, "r6_delete_responses", {"ids": match.ids}).all())
                respondents = len(_run(conn, "r6_delete_respondents", {"ids": match.ids}).all())
                counts.update(respondents=respondents, responses=responses, recordings=recordings["recordings"])
        counts["open_texts_scrubbed"] = _scrub_open_text(eng, client_id, needles[client_id])
        if match is not None or any(counts.values()):
            audit.append(eng, rule=request.rule, action="subject_erased", client_id=client_id, as_of=as_of,
                         run_id=run_id, counts={"request_id": request_id, **counts})  # fmt: skip
            log.info("%s: %s: erased %d respondents, %d responses, %d recordings; quarantine: %d files deleted, "
                     "%d rows removed; %d other people's open texts scrubbed", request_id, client_id,
                     counts.get("respondents", 0), counts.get("responses", 0), counts.get("recordings", 0),
                     counts["quarantine_files_deleted"], counts["quarantine_rows_removed"],
                     counts["open_texts_scrubbed"])  # fmt: skip
    if removed_exports:
        audit.append(eng, rule=request.rule, action="exports_removed", client_id=request.client_id, as_of=as_of,
                     run_id=run_id, counts={"request_id": request_id, "folders": len(removed_exports),
                                            "requests": removed_exports[:10]})  # fmt: skip
        log.info("%s: removed %d export folder(s) that held the person: %s", request_id, len(removed_exports),
                 ", ".join(removed_exports))  # fmt: skip
    return {c: counts for c, counts in per_client.items() if any(counts.values()) or c in matches}, None


@dataclass
class _QuarantineFindings:
    client_id: str
    rows_found: list[dict] = field(default_factory=list)
    rows_removed: int = 0
    rewritten: dict[str, int] = field(default_factory=dict)  # record path -> rows left
    deleted: list[str] = field(default_factory=list)  # record paths

    @property
    def changed(self) -> bool:
        return bool(self.rewritten or self.deleted)


def _quarantine(client_id: str, needles: _Needles, *, erase: bool) -> _QuarantineFindings:
    """R10: the person in KCM_HOME/quarantine/<client>/: rejected rows (rewritten without them) and whole files."""
    import csv
    import os

    findings = _QuarantineFindings(client_id)
    folder = settings.quarantine_dir(client_id)
    if not needles or not folder.is_dir():
        return findings
    base = settings.kcm_home() / "quarantine"
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.name.endswith(".reason.json"):
            continue
        relative = path.relative_to(base).as_posix()
        if path.name.endswith(".rejected.csv"):
            with path.open(encoding="utf-8", errors="replace", newline="") as handle:
                rows = list(csv.reader(handle))
            if not rows:
                continue
            header, records = rows[0], rows[1:]
            original = header[2:]  # '_record', '_reasons', then the delivery's header
            columns = [contract.canonical(c) for c in original]
            hit = [needles.row_mentions(columns, row[2:]) for row in records]
            hits = [row for row, mentioned in zip(records, hit, strict=True) if mentioned]
            if not hits:
                continue
            for row in hits:
                findings.rows_found.append({"quarantine_file": path.name, **dict(zip(header, row, strict=False))})
            if not erase:
                continue
            kept = [row for row, mentioned in zip(records, hit, strict=True) if not mentioned]
            findings.rows_removed += len(hits)
            if "file_name" in columns:  # a manifest: the rows' WAVs went to quarantine too
                stem = path.name[17 : -len(".rejected.csv")]
                for row in hits:
                    label = f"*-{_glob_literal(stem)}.record{row[0]}"
                    for wav in [*folder.glob(f"{label}.wav"), *folder.glob(f"{label}.*.wav")]:
                        findings.deleted.append(wav.relative_to(base).as_posix())
                        _unlink_with_reason(wav)
            if kept:
                temporary = path.with_name(f".{path.name}.rewrite")
                with temporary.open("w", encoding="utf-8", newline="") as handle:
                    csv.writer(handle).writerows([header, *kept])
                os.replace(temporary, path)
                _update_reason_rows(path, len(kept))
                findings.rewritten[relative] = len(kept)
            else:
                _unlink_with_reason(path)
                findings.deleted.append(relative)
        elif _is_text(path) and _file_mentions(path, needles):
            findings.rows_found.append({"quarantine_file": path.name, "_reasons": "whole file quarantined"})
            if erase:
                _unlink_with_reason(path)
                findings.deleted.append(relative)
    return findings


def _glob_literal(text: str) -> str:
    """A literal for Path.glob (file stems may hold '[' or '*')."""
    import glob

    return glob.escape(text)


def _is_text(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(8192)
    return b"\x00" not in head and not head.startswith(b"RIFF")


def _file_mentions(path: Path, needles: _Needles) -> bool:
    """Line by line (an identifier never spans lines): a large quarantined file is never read whole."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return any(needles.mentions(line) for line in handle)


def _unlink_with_reason(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".reason.json").unlink(missing_ok=True)


def _update_reason_rows(path: Path, rows: int) -> None:
    reason = path.with_name(path.name + ".reason.json")
    try:
        doc = json.loads(reason.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    doc["rows"] = rows
    doc["first_rows"] = []  # record numbers of rows that may be gone
    reason.write_text(json.dumps(doc, indent=2), encoding="utf-8")


def _record_quarantine(eng: Engine, found: _QuarantineFindings, *, as_of: dt.date) -> None:
    with eng.begin() as conn:
        for relative, rows in found.rewritten.items():
            _run(conn, "r6_quarantine_rows_left", {"path": relative, "rows": rows})
        for relative in found.deleted:
            _run(conn, "r6_quarantine_mark_purged", {"path": relative, "purged_on": as_of})


@functools.cache
def _open_text_columns() -> tuple[tuple[str, str, str], ...]:
    """(table, key column, text column) of the data map's open text (R8): where others may mention the person."""
    mapping = data_map.load()
    keys = {"respondents": "id", "responses": "respondent_id"}
    found = []
    for table, key in keys.items():
        for entry in mapping.table(table):
            if entry.category in ("open_text", "complaint_history"):
                if not re.match(r"^[a-z_][a-z0-9_]*$", entry.column):
                    raise ValueError(f"data map: {entry.column!r} is not a plain column name")
                found.append((table, key, entry.column))
    return tuple(found)


def _scrub_open_text(eng: Engine, client_id: str, needles: _Needles) -> int:
    """Replace the person's identifiers in other people's open text of the client; returns texts changed."""
    patterns = needles.like_patterns()
    if not patterns:
        return 0
    changed = 0
    for table, key, column in _open_text_columns():
        parts = {"table": table, "key": key, "column": column}
        rewrites: dict[object, str] = {}
        with eng.connect() as conn:
            for pattern in patterns:
                for row in _run(conn, "r6_text_mentions", {"client_id": client_id, "pattern": pattern}, **parts):
                    text = rewrites.get(row.row_key, row.text)
                    scrubbed = needles.scrub(text)
                    if scrubbed != row.text:
                        rewrites[row.row_key] = scrubbed
        if rewrites:
            with eng.begin() as conn:
                for row_key, text in rewrites.items():
                    _run(conn, "r6_text_rewrite", {"row_key": row_key, "text": text}, **parts)
            changed += len(rewrites)
    return changed


# --- R6 due dates --------------------------------------------------------------------------------------


def open_requests(eng: Engine, as_of: dt.date | None = None) -> list[dict[str, object]]:
    """Open requests with their due dates (and days left on `as_of`): what the data team must still answer."""
    with eng.connect() as conn:
        rows = [dict(r) for r in _run(conn, "r6_open_requests").mappings()]
    for row in rows:
        for key in ("received_on", "due_on"):
            if not isinstance(row[key], dt.date):
                row[key] = dt.date.fromisoformat(str(row[key]))
        if as_of:
            row["days_left"] = (row["due_on"] - as_of).days
    return rows


def check_due(eng: Engine, *, as_of: dt.date, run_id: str | None = None) -> dict[str, int]:
    """R6: list open requests in a report and fail loudly when any is open past its due date."""
    rows = open_requests(eng, as_of)
    overdue = [r for r in rows if r["due_on"] < as_of]
    soon = [r for r in rows if as_of <= r["due_on"] <= as_of + dt.timedelta(days=DUE_SOON_DAYS)]
    report = _write_due_report(rows, as_of)
    audit.append(eng, rule="R6", action="requests_checked", as_of=as_of, run_id=run_id,
                 counts={"open": len(rows), "overdue": len(overdue), "due_soon": len(soon),
                         "overdue_requests": [r["request_id"] for r in overdue][:20]})  # fmt: skip
    for row in rows:
        state = "OVERDUE" if row in overdue else ("due soon" if row in soon else "open")
        log.info("%-8s %s %-13s %-12s received %s due %s (%+d days)", state, row["request_id"], row["request_type"],
                 row["client_scope"], row["received_on"], row["due_on"], row["days_left"])  # fmt: skip
    if overdue:
        listed = ", ".join(f"{r['request_id']} ({r['request_type']}, due {r['due_on']})" for r in overdue)
        raise RequestsOverdue(
            f"R6: {len(overdue)} subject request(s) open past their due date: {listed}. Answer them now: re-run the "
            f"failed kcm_subject_request run (or trigger it again); the open list is in {report}"
        )
    if soon:
        log.warning("R6: %d subject request(s) fall due within %d days", len(soon), DUE_SOON_DAYS)
    return {"open": len(rows), "overdue": 0, "due_soon": len(soon)}


def _write_due_report(rows: Sequence[Mapping[str, object]], as_of: dt.date) -> Path:
    import csv

    folder = settings.reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "subject_requests_open.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request_id", "request_type", "client_scope", "received_on", "due_on", "days_left", "as_of"])
        for row in rows:
            writer.writerow([row["request_id"], row["request_type"], row["client_scope"], row["received_on"],
                             row["due_on"], row["days_left"], as_of])  # fmt: skip
    return path


# --- R11: for the nightly proof -----------------------------------------------------------------------------


def erased_still_present(eng: Engine, client_id: str, *, chunk_rows: int = 100_000) -> dict[str, int]:
    """R11: respondents of a client that an erasure should have removed (loaded before it), or that the
    suppression list should have kept out; both must be 0. Costs one query for a client nobody asked about."""
    import pandas as pd

    with eng.connect() as conn:
        erased = _run(conn, "r6_erased_hashes", {"client_id": client_id, "all": ALL_CLIENTS}).all()
        listed = suppression.listed(conn, client_id)
        country = conn.execute(sa.text("SELECT country FROM clients WHERE client_id = :c"), {"c": client_id}).scalar()
    present = {"erased_present": 0, "suppressed_present": 0}
    if not erased and not listed:
        return present
    erased_at = {
        (kind, digest): moment
        for kind, digest, moment in zip(
            (r[0] for r in erased), (r[1] for r in erased), _utc([r[2] for r in erased]), strict=True
        )
    }
    key = suppression.secret()
    with eng.connect() as conn:
        statement = _statement("r6_client_identifiers", conn.dialect.name)
        for frame in pd.read_sql(statement, conn, params={"client_id": client_id}, chunksize=chunk_rows):
            loaded = _utc(frame["loaded_at"])
            hit_erased = pd.Series(False, index=frame.index)
            hit_listed = pd.Series(False, index=frame.index)
            for kind in suppression.KINDS:
                values = suppression.normalise_series(kind, frame[kind].astype("str"), country or "NL")
                digests = suppression.keyed_hashes(kind, values, key)
                erased_on = _utc(digests.map(lambda d, k=kind: erased_at.get((k, d)), na_action="ignore"))
                hit_erased |= (erased_on.notna() & (loaded.to_numpy() <= erased_on.to_numpy())).to_numpy()
                hit_listed |= digests.isin(listed.get(kind, set())).to_numpy()
            present["erased_present"] += int(hit_erased.sum())
            present["suppressed_present"] += int(hit_listed.sum())
    return present


def _utc(values) -> pd.Series:
    """Stored moments (datetimes, or ISO text on SQLite, where UTC is stored without offset) as UTC."""
    import pandas as pd

    series = pd.Series(values, dtype="object")
    text = series.map(lambda v: v.isoformat() if isinstance(v, dt.datetime) else v, na_action="ignore")
    return pd.to_datetime(text.astype("str").where(series.notna()), utc=True, format="ISO8601")


# --- the demo ---------------------------------------------------------------------------------------------


def demo_requests(eng: Engine, clients: Sequence[ClientConfig], *, as_of: dt.date,
                  run_prefix: str = "demo") -> list[dict]:  # fmt: skip
    """One request of each type on people of the demo warehouse, through the same calls as the DAG.

    Person A (picked by e-mail, all clients) is accessed, exported, rectified and
    erased; person B (picked by phone in one client) objects. Returns each answer's
    counts; nothing personal is returned or logged.
    """
    with eng.connect() as conn:
        people = conn.execute(
            sa.text(
                "SELECT client_id, email, phone FROM respondents WHERE email IS NOT NULL AND phone IS NOT NULL "
                "AND anonymised_on IS NULL ORDER BY client_id, id LIMIT 2"
            )  # fmt: skip
        ).all()
    if len(people) < 2:
        raise RequestError("demo: the warehouse needs at least two respondents with e-mail and phone; run the ingest")
    a, b = people
    conf_a = {"client": "all", "email": a.email, "received_on": as_of.isoformat()}
    plan = [
        {**conf_a, "request_type": "access"},
        {**conf_a, "request_type": "export"},
        {**conf_a, "request_type": "rectification", "new_values": {"city": "Utrecht"}},
        {**conf_a, "request_type": "erasure"},
        {"client": b.client_id, "phone": b.phone, "received_on": as_of.isoformat(), "request_type": "objection"},
    ]
    answers = []
    for number, conf in enumerate(plan, start=1):
        run_id = f"{run_prefix}__{as_of.isoformat()}__{number}_{conf['request_type']}"
        request = parse(conf, as_of=as_of, clients=clients)
        request_id = record(eng, request, run_id=run_id, as_of=as_of)
        answers.append(carry_out(eng, request, request_id, run_id=run_id, as_of=as_of, clients=clients))
    return answers


def describe(answers: Iterable[Mapping[str, object]]) -> str:
    """One line per answered request (ids and counts), for the demo's output."""
    lines = []
    for answer in answers:
        clients = answer.get("clients") or {}
        lines.append(
            f"{answer['request_id']}: {answer.get('people', 0)} people, {answer.get('respondents', 0)} records in "
            f"{len(clients)} client(s)" + (f"; export in {answer['export']}" if answer.get("export") else "")
        )
    return "\n".join(lines)
