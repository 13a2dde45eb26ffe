"""The nightly retention run (R2, R3, R4, R9, R10, R12): anonymise at term, delete what must go, audit it all.

Every step is set-based SQL from include/sql/ (files named after the rule), a few
statements per table and rule, batched per transaction, idempotent, and computed
against the run's as-of day, never the wall clock. The data map (R8) decides what
happens to each column at term. Recording files are deleted in three steps so that
a crash loses track of nothing: rows are marked 'deleting' and committed, the files
are deleted, then the rows; every run first finishes what an earlier one left
marked. Each committed piece of work appends its audit event in the same
transaction, so nothing is reported done that is not.

Logs, return values (XCom) and audit events carry ids, rule ids and counts only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from include import audit, data_map, recordings_store, settings, sql, storage, terms
from include.config import ClientConfig

log = logging.getLogger(__name__)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
BATCH_SIZE = 50_000
EXPORT_DAYS = 30
# Tables the nightly steps change; PostgreSQL vacuums those a night touched (R10).
PERSONAL_TABLES = ("respondents", "responses", "recordings")
# The quasi-identifiers the k-anonymity step knows how to generalise (r9_k_*.sql).
K_QUASI_IDENTIFIERS = frozenset({"gender", "age_band", "region"})
K_STEPS = (
    "r9_k_generalise_region_to_province",
    "r9_k_generalise_age_band_to_level2",
    "r9_k_generalise_region_to_country",
    "r9_k_generalise_age_band_to_any",
    "r9_k_suppress",
)
# Data map categories of a person's own identifiers, handed to the text scrubber.
KNOWN_CATEGORIES = frozenset({"name", "contact", "address", "customer_id", "transaction_id"})
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def checkpoint(point: str) -> None:
    """Crash-test hook: with KCM_CRASH_AT=<point>, the process dies here as if killed."""
    if os.environ.get("KCM_CRASH_AT") == point:
        os._exit(1)


# --- connections and statements ---------------------------------------------------------


def _local_date(value: object) -> str | None:
    """SQLite function kcm_local_date: the Europe/Amsterdam calendar day of a stored UTC timestamp."""
    if value is None:
        return None
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(AMSTERDAM).date().isoformat()


def _prepare(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.connection.driver_connection.create_function("kcm_local_date", 1, _local_date, deterministic=True)


@contextlib.contextmanager
def _begin(eng: Engine) -> Iterator[Connection]:
    """One transaction, with the SQL functions the statements need."""
    with eng.begin() as conn:
        _prepare(conn)
        yield conn


def _text(name: str, dialect: str, **parts: str) -> str:
    """A statement's text without its comment lines, with generated identifier lists filled in."""
    lines = [line for line in sql.statement(name, dialect).text.splitlines() if not line.lstrip().startswith("--")]
    text = "\n".join(lines).strip()
    return text.format(**parts) if parts else text


# Lists bound into `IN :name`; typed, so an empty list still compares with the right type.
_LISTS = {"ids": sa.BigInteger(), "assignment_ids": sa.String()}


@functools.cache
def _statement(name: str, dialect: str, expanding: tuple[str, ...] = ()) -> sa.TextClause:
    clause = sa.text(_text(name, dialect))
    lists = (sa.bindparam(p, expanding=True, type_=_LISTS[p]) for p in expanding)
    return clause.bindparams(*lists) if expanding else clause


def _run(conn: Connection, name: str, params: Mapping[str, object], expanding: tuple[str, ...] = ()):
    return conn.execute(_statement(name, conn.dialect.name, expanding), dict(params))


# --- the data map decides (R8, R9) -------------------------------------------------------


def _check_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"data map: {name!r} is not a plain column name")
    return name


@functools.cache
def _treatments(table: str, dialect: str, open_text: str) -> str:
    """The SET list that anonymises `table` at term, one assignment per column the data map treats."""
    mapping = data_map.load()
    derived = {c.column for c in mapping.table(table) if c.category == "derived"}
    assignments: list[str] = []
    for entry in mapping.table(table):
        column = _check_identifier(entry.column)
        treatment = entry.treatment
        if treatment == "keep":
            continue
        if treatment in ("remove", "day", "month"):
            assignments.append(f"{column} = {_text('r9_treat_' + treatment, dialect, column=column)}")
        elif treatment in ("age_band", "region"):
            if treatment not in derived:
                raise ValueError(
                    f"data map: {table}.{column} becomes {treatment}, but {table} has no derived column {treatment}"
                )
            parts = {"column": column}
            if treatment == "age_band":
                parts["age"] = _text("r9_age_years", dialect, column=column)
            assignments.append(f"{treatment} = {_text('r9_treat_' + treatment, dialect, **parts)}")
            assignments.append(f"{column} = NULL")
        elif treatment == "scrub_text":
            # Scrubbed in Python just before this statement (r9_write_scrubbed_text), or dropped here.
            if open_text == "drop":
                assignments.append(f"{column} = NULL")
        else:
            raise ValueError(f"data map: treatment {treatment!r} of {table}.{column} cannot apply to a table column")
    return ",\n    ".join(assignments)


@functools.cache
def _anonymise_statement(table: str, dialect: str, open_text: str) -> sa.TextClause:
    treatments = _treatments(table, dialect, open_text)
    return sa.text(_text(f"r2_anonymise_{table}", dialect, treatments=treatments))


def _scrub_columns() -> list[str]:
    return [_check_identifier(c) for c in data_map.load().with_treatment("responses", "scrub_text")]


def _known_columns() -> list[str]:
    """The person's own identifiers the scrubber looks for: from the data map, never a list of our own."""
    return [
        _check_identifier(c.column)
        for c in data_map.load().table("respondents")
        if c.category in KNOWN_CATEGORIES and c.treatment != "keep"
    ]


def check_data_map() -> None:
    """Refuse to run when the data map asks for something this module cannot do (R8, R9).

    Every table with personal columns must be one the nightly run anonymises or
    deletes, and the quasi-identifiers must be the ones the k-anonymity step
    generalises, so nothing personal is silently left behind.
    """
    mapping = data_map.load()
    treated = {c.table for c in mapping.columns if c.treatment != "keep"}
    unknown = treated - set(PERSONAL_TABLES)
    if unknown:
        raise ValueError(
            f"data map: tables {sorted(unknown)} have treatments at term, but retention handles only {PERSONAL_TABLES}"
        )
    if set(mapping.quasi_identifiers("respondents")) != K_QUASI_IDENTIFIERS:
        raise ValueError(
            f"data map: quasi-identifiers of respondents are {mapping.quasi_identifiers('respondents')}; "
            f"the k-anonymity step generalises {sorted(K_QUASI_IDENTIFIERS)}: extend include/sql/r9_k_*.sql first"
        )
    if any(c.treatment == "scrub_text" for c in mapping.columns if c.table != "responses"):
        raise ValueError("data map: scrub_text is supported on responses only")


# --- recordings: mark, delete files, delete rows ---------------------------------------


def finish_deletions(
    eng: Engine, client_id: str, *, as_of: dt.date, run_id: str | None, batch_size: int = 10_000
) -> dict[str, int]:
    """R10: delete the files and rows of every recording marked 'deleting' (this run's or a crashed one's)."""
    totals = Counter()
    while True:
        with eng.connect() as conn:
            rows = _run(conn, "r10_deleting_recordings", {"client_id": client_id, "batch_size": batch_size}).all()
        if not rows:
            break
        per_event: dict[tuple[str, str], Counter] = {}
        for row in rows:
            counts = per_event.setdefault((row.delete_rule or "R10", row.assignment_id), Counter())
            counts["deleted" if recordings_store.delete(row.stored_path) else "already_absent"] += 1
            counts["rows"] += 1
        checkpoint("recording_files_deleted")
        with _begin(eng) as conn:
            deleted = _run(conn, "r10_delete_recording_rows", {"ids": [r.id for r in rows]}, ("ids",)).rowcount
            for (rule, assignment_id), counts in sorted(per_event.items()):
                audit.append(
                    conn,
                    rule=rule,
                    action="recordings_deleted",
                    client_id=client_id,
                    assignment_id=assignment_id,
                    as_of=as_of,
                    run_id=run_id,
                    counts={
                        "rows": {"recordings": counts["rows"]},
                        "files": {"recording": counts["deleted"]},
                        "files_already_absent": counts["already_absent"],
                    },
                )
        totals["recordings"] += deleted
        totals["files"] += sum(c["deleted"] for c in per_event.values())
        totals["already_absent"] += sum(c["already_absent"] for c in per_event.values())
    if totals["recordings"]:
        log.info(
            "%s: %d recordings deleted (%d files, %d already absent)",
            client_id,
            totals["recordings"],
            totals["files"],
            totals["already_absent"],
        )
    return {
        "recordings": totals["recordings"],
        "recording_files": totals["files"],
        "recording_files_already_absent": totals["already_absent"],
    }


def _delete_marked_recordings(
    eng: Engine,
    client_id: str,
    statement: str,
    params: Mapping[str, object],
    *,
    as_of: dt.date,
    run_id: str | None,
    expanding: tuple[str, ...] = (),
) -> dict[str, int]:
    """Mark recordings 'deleting' and commit, then delete their files, then their rows."""
    with _begin(eng) as conn:
        marked = _run(conn, statement, params, expanding).rowcount
    if marked:
        checkpoint("recordings_marked_deleting")
    return finish_deletions(eng, client_id, as_of=as_of, run_id=run_id)


# --- R4 destruction --------------------------------------------------------------------


def destroy_requested(
    eng: Engine, client: ClientConfig, *, as_of: dt.date, run_id: str | None, batch_size: int = BATCH_SIZE
) -> dict[str, int]:
    """R4: delete outright the assignments (or whole client) whose destruction was requested on or before as_of.

    A destroyed client is swept again every night (a delivery refused after its
    destruction still lands in quarantine); only what is found is audited.
    """
    client_id = client.client_id
    with eng.connect() as conn:
        whole_client = bool(_run(conn, "r4_client_due", {"client_id": client_id, "as_of": as_of}).scalar())
        due = _run(conn, "r4_due_assignments", {"client_id": client_id, "as_of": as_of})
        assignment_ids = [r.assignment_id for r in due]
    done = {
        "assignments": len(assignment_ids),
        "respondents": 0,
        "responses": 0,
        "recordings": 0,
        "quarantine_files": 0,
        "stray_files": 0,
    }
    if not whole_client and not assignment_ids:
        return done
    scope = {"client_id": client_id, "whole_client": whole_client, "assignment_ids": assignment_ids}
    recordings = _delete_marked_recordings(
        eng, client_id, "r4_mark_recordings_deleting", scope, as_of=as_of, run_id=run_id, expanding=("assignment_ids",)
    )
    per_assignment: dict[str, Counter] = {}
    for table in ("responses", "respondents"):
        while True:
            with _begin(eng) as conn:
                deleted = _run(
                    conn, f"r4_delete_{table}", {**scope, "batch_size": batch_size}, ("assignment_ids",)
                ).all()
                if not deleted:
                    break
                for assignment_id, count in sorted(Counter(r.assignment_id for r in deleted).items()):
                    per_assignment.setdefault(assignment_id, Counter())[table] += count
                    audit.append(
                        conn,
                        rule="R4",
                        action=f"{table}_deleted",
                        client_id=client_id,
                        assignment_id=assignment_id,
                        as_of=as_of,
                        run_id=run_id,
                        counts={"rows": {table: count}},
                    )
                if table == "respondents" and any(r.anonymised for r in deleted):
                    _run(conn, "r9_k_invalidate", {"client_id": client_id})
                checkpoint(f"r4_{table}_batch_uncommitted")
            done[table] += len(deleted)
    quarantined = _purge_quarantine(eng, client_id, "r4_quarantine_open", as_of=as_of, run_id=run_id, rule="R4")
    removed = Counter()
    if whole_client:
        # Strays no row knows of (a crashed ingest's copy) go with the client, as do waiting deliveries.
        removed["recording"] = recordings_store.delete_client(client_id)
        removed["landing"] = _remove_tree(settings.landing_dir(client_id))
        if (remote_landing := storage.landing(client_id)) is not None:
            removed["landing"] += remote_landing.clear()
        removed["quarantine"] = _remove_tree(settings.quarantine_dir(client_id))
    with _begin(eng) as conn:
        _run(conn, "r4_mark_assignments_destroyed", {**scope, "as_of": as_of}, ("assignment_ids",))
        for assignment_id in assignment_ids:
            tally = per_assignment.get(assignment_id, Counter())
            audit.append(
                conn,
                rule="R4",
                action="assignment_destroyed",
                client_id=client_id,
                assignment_id=assignment_id,
                as_of=as_of,
                run_id=run_id,
                counts={"respondents_deleted": tally["respondents"], "responses_deleted": tally["responses"]},
            )
        newly = (
            whole_client and _run(conn, "r4_mark_client_destroyed", {"client_id": client_id, "as_of": as_of}).rowcount
        )
        if newly or sum(removed.values()):
            audit.append(
                conn,
                rule="R4",
                action="client_destroyed" if newly else "client_strays_removed",
                client_id=client_id,
                as_of=as_of,
                run_id=run_id,
                counts={"assignments": len(assignment_ids), "files": {k: v for k, v in removed.items() if v}},
            )
    done.update(
        recordings=recordings["recordings"], quarantine_files=quarantined["files"], stray_files=sum(removed.values())
    )
    if (
        assignment_ids
        or newly
        or any(done[k] for k in ("respondents", "recordings", "quarantine_files", "stray_files"))
    ):
        log.info(
            "%s: R4 destroyed %d assignment(s)%s: %d respondents, %d responses, %d recordings, "
            "%d quarantine files, %d stray files",
            client_id,
            len(assignment_ids),
            " (whole client)" if whole_client else "",
            done["respondents"],
            done["responses"],
            done["recordings"],
            done["quarantine_files"],
            done["stray_files"],
        )
    return done


def _remove_tree(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    files = sum(1 for p in folder.rglob("*") if not p.is_dir() or p.is_symlink())
    shutil.rmtree(folder)
    return files


# --- R3 non-respondents ----------------------------------------------------------------


def delete_non_respondents(
    eng: Engine, client: ClientConfig, *, as_of: dt.date, run_id: str | None, batch_size: int = BATCH_SIZE
) -> dict[str, int]:
    """R3: delete every invited person with no response invited on or before the non-respondent cutoff."""
    client_id = client.client_id
    cutoff = terms.non_respondent_cutoff(as_of, client.non_respondent_months)
    params = {"client_id": client_id, "cutoff": cutoff}
    recordings = _delete_marked_recordings(
        eng, client_id, "r3_mark_recordings_deleting", params, as_of=as_of, run_id=run_id
    )
    deleted_total = 0
    while True:
        with _begin(eng) as conn:
            deleted = _run(conn, "r3_delete_non_respondents", {**params, "batch_size": batch_size}).all()
            if not deleted:
                break
            for assignment_id, count in sorted(Counter(r.assignment_id for r in deleted).items()):
                audit.append(
                    conn,
                    rule="R3",
                    action="non_respondents_deleted",
                    client_id=client_id,
                    assignment_id=assignment_id,
                    as_of=as_of,
                    run_id=run_id,
                    counts={"rows": {"respondents": count}, "invited_on_or_before": cutoff.isoformat()},
                )
            checkpoint("r3_batch_uncommitted")
        deleted_total += len(deleted)
    if deleted_total:
        log.info("%s: R3 deleted %d non-respondents invited on or before %s", client_id, deleted_total, cutoff)
    return {"non_respondents": deleted_total, "recordings": recordings["recordings"], "cutoff": cutoff.isoformat()}


# --- R2 anonymisation at term (R9) ------------------------------------------------------


Scrubber = Callable[[Sequence[tuple[str | None, Sequence[str]]]], list]


def text_scrubber() -> Scrubber:
    """The open-text scrubber (slow to build: build once per task)."""
    from include.anonymisers.text import TextScrubber

    return TextScrubber().scrub_many


def anonymise_due(
    eng: Engine,
    client: ClientConfig,
    *,
    as_of: dt.date,
    run_id: str | None,
    scrubber: Scrubber | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, int]:
    """R2: anonymise every assignment whose term ended on or before as_of, as the data map says (R9)."""
    check_data_map()
    client_id = client.client_id
    with eng.connect() as conn:
        due = _run(conn, "r2_due_assignments", {"client_id": client_id, "as_of": as_of}).all()
    totals = Counter()
    lazy = _LazyScrubber(scrubber)
    for assignment in due:
        done = _anonymise_assignment(
            eng, client, assignment.assignment_id, as_of=as_of, run_id=run_id, scrubber=lazy, batch_size=batch_size
        )
        totals.update(done)
        totals["assignments"] += 1
    if due:
        log.info(
            "%s: R2 anonymised %d assignment(s): %d respondents, %d responses (%d open answers %s), "
            "%d recordings deleted",
            client_id,
            totals["assignments"],
            totals["respondents"],
            totals["responses"],
            totals["texts"],
            "dropped" if client.open_text == "drop" else "scrubbed",
            totals["recordings"],
        )
    return {key: totals[key] for key in ("assignments", "respondents", "responses", "texts", "recordings")}


class _LazyScrubber:
    """Builds the scrubber the first time there is text to scrub."""

    def __init__(self, scrubber: Scrubber | None) -> None:
        self._scrubber = scrubber

    def __call__(self, items: Sequence[tuple[str | None, Sequence[str]]]) -> list:
        if self._scrubber is None:
            self._scrubber = text_scrubber()
        return self._scrubber(items)


def _anonymise_assignment(
    eng: Engine,
    client: ClientConfig,
    assignment_id: str,
    *,
    as_of: dt.date,
    run_id: str | None,
    scrubber: Scrubber,
    batch_size: int,
) -> Counter:
    client_id, dialect = client.client_id, eng.dialect.name
    scope = {"client_id": client_id, "assignment_id": assignment_id}
    # Recordings first: a voice cannot be anonymised (data map: delete_file).
    recordings = _delete_marked_recordings(
        eng, client_id, "r2_mark_recordings_deleting", scope, as_of=as_of, run_id=run_id
    )
    totals = Counter(recordings=recordings["recordings"])
    respondents_sql = _anonymise_statement("respondents", dialect, client.open_text)
    responses_sql = _anonymise_statement("responses", dialect, client.open_text)
    while True:
        with eng.connect() as conn:
            first_id, last_id = _run(conn, "r2_batch_end", {**scope, "batch_size": batch_size}).one()
        if last_id is None:
            break
        batch = {**scope, "first_id": first_id, "last_id": last_id}
        scrubbed = _scrubbed_texts(eng, batch, scrubber) if client.open_text == "scrub" else {}
        with _begin(eng) as conn:
            for column, rows in scrubbed.items():
                if rows:
                    conn.execute(sa.text(_text("r9_write_scrubbed_text", dialect, text_column=column)), rows)
            responses = conn.execute(responses_sql, batch).rowcount
            checkpoint("r2_batch_uncommitted")
            respondents = conn.execute(respondents_sql, {**batch, "as_of": as_of, "country": client.country}).rowcount
            _run(conn, "r9_k_invalidate", {"client_id": client_id})
            texts = sum(len(rows) for rows in scrubbed.values())
            audit.append(
                conn,
                rule="R2",
                action="respondents_anonymised",
                client_id=client_id,
                assignment_id=assignment_id,
                as_of=as_of,
                run_id=run_id,
                counts={
                    "rows": {"respondents": respondents, "responses": responses},
                    "open_text": client.open_text,
                    "texts_scrubbed": texts,
                },
            )
        checkpoint("r2_batch_committed")
        totals.update(respondents=respondents, responses=responses, texts=texts)
    with _begin(eng) as conn:
        _run(conn, "r2_mark_assignment_anonymised", {**scope, "as_of": as_of})
        anonymised = _run(conn, "r2_count_anonymised", scope).scalar()
        audit.append(
            conn,
            rule="R2",
            action="assignment_anonymised",
            client_id=client_id,
            assignment_id=assignment_id,
            as_of=as_of,
            run_id=run_id,
            counts={"respondents_anonymised": anonymised},
        )
    return totals


def _scrubbed_texts(eng: Engine, batch: Mapping[str, object], scrubber: Scrubber) -> dict[str, list[dict]]:
    """R9: the batch's open answers with every identifier replaced, per text column (never logged)."""
    known = _known_columns()
    result: dict[str, list[dict]] = {}
    for column in _scrub_columns():
        statement = sa.text(
            _text(
                "r9_scrub_candidates",
                eng.dialect.name,
                text_column=column,
                known_columns=", ".join(f"r.{k}" for k in known),
            )
        )
        with eng.connect() as conn:
            rows = conn.execute(statement, dict(batch)).all()
        if not rows:
            result[column] = []
            continue
        items = [(row.text, [str(v) for v in row[2:] if v not in (None, "")]) for row in rows]
        cleaned = scrubber(items)
        result[column] = [
            {"respondent_id": row.respondent_id, "text": text} for row, text in zip(rows, cleaned, strict=True)
        ]
    return result


# --- R9 k-anonymity --------------------------------------------------------------------


def k_anonymity_violations(eng: Engine | Connection, client_id: str, k: int) -> dict[str, int]:
    """R9: classes (and their respondents) of the client's anonymised set with fewer than k members.

    Checked with a GROUP BY in SQL: the planned library pycanon pins pandas 2.x and
    cannot be installed beside pandas 3, and a GROUP BY needs no data in Python.
    """
    with contextlib.ExitStack() as stack:
        conn = eng if isinstance(eng, Connection) else stack.enter_context(eng.connect())
        row = _run(conn, "r9_k_small_classes", {"client_id": client_id, "k": k}).one()
    return {"classes": int(row.classes), "respondents": int(row.respondents), "anonymised": int(row.anonymised)}


def enforce_k_anonymity(eng: Engine, client: ClientConfig, *, as_of: dt.date, run_id: str | None) -> dict[str, int]:
    """R9: generalise (region -> province -> country; age band level 1 -> 2 -> '*') or suppress until k-anonymous.

    Runs only when the client's anonymised set changed since it was last verified
    for this k, so a night with nothing due reads nothing. Rows move one step up a
    hierarchy only while their class has fewer than k members; a class of k or more
    is never touched, so earlier nights' results stay. Fully suppressed rows form one
    class of their own, topped up to k from the largest class when needed. A client
    with fewer than k anonymised respondents in all cannot be k-anonymous: its rows
    are all suppressed and the shortfall is reported.
    """
    check_data_map()
    client_id, k = client.client_id, client.k_anonymity
    with eng.connect() as conn:
        verified = _run(conn, "r9_k_verified", {"client_id": client_id}).scalar()
    if verified is not None and verified >= k:
        return {"checked": 0, "generalised": 0, "suppressed": 0, "classes_below_k": 0}
    params = {"client_id": client_id, "k": k, "country": client.country}
    steps = dict.fromkeys([*(s.removeprefix("r9_k_") for s in K_STEPS), "suppress_top_up"], 0)
    with _begin(eng) as conn:
        _run(conn, "r9_k_analyze", {})
        before = after = k_anonymity_violations(conn, client_id, k)
        if before["classes"]:
            for step in K_STEPS:
                steps[step.removeprefix("r9_k_")] = _run(conn, step, params).rowcount
            steps["suppress_top_up"] = _top_up_suppressed(conn, client_id, k)
            after = k_anonymity_violations(conn, client_id, k)
        _run(conn, "r9_k_mark_verified", params)
        if before["anonymised"]:
            counts = {
                "k": k,
                "anonymised_respondents": before["anonymised"],
                "classes_below_k_before": before["classes"],
                "respondents_below_k_before": before["respondents"],
                "steps": steps,
                "classes_below_k_after": after["classes"],
            }
            audit.append(
                conn,
                rule="R9",
                action="k_anonymity_enforced",
                client_id=client_id,
                as_of=as_of,
                run_id=run_id,
                counts=counts,
            )
    if after["classes"]:
        log.warning(
            "%s: R9 only %d anonymised respondents in classes below k=%d remain: fewer than k in all",
            client_id,
            after["respondents"],
            k,
        )
    generalised = sum(v for key, v in steps.items() if key.startswith("generalise"))
    suppressed = steps["suppress"] + steps["suppress_top_up"]
    log.info(
        "%s: R9 k=%d: %d classes below k before; %d generalisation steps applied to rows, %d rows suppressed; "
        "%d classes below k after",
        client_id,
        k,
        before["classes"],
        generalised,
        suppressed,
        after["classes"],
    )
    return {"checked": 1, "generalised": generalised, "suppressed": suppressed, "classes_below_k": after["classes"]}


def _top_up_suppressed(conn: Connection, client_id: str, k: int) -> int:
    """Bring the suppressed class to k members from classes that can spare them (or leave it empty)."""
    moved = 0
    while True:
        suppressed = _run(conn, "r9_k_suppressed_count", {"client_id": client_id}).scalar()
        if suppressed == 0 or suppressed >= k:
            return moved
        donor = _run(conn, "r9_k_largest_class", {"client_id": client_id, "k": k}).first()
        if donor is None:
            return moved
        needed = min(k - suppressed, donor.members - k)
        moved += _run(
            conn,
            "r9_k_suppress_donors",
            {
                "client_id": client_id,
                "gender": donor.gender,
                "age_band": donor.age_band,
                "region": donor.region,
                "needed": needed,
            },
        ).rowcount


# --- R10 files with terms of their own -----------------------------------------------------


def purge_expired_files(eng: Engine, client: ClientConfig, *, as_of: dt.date, run_id: str | None) -> dict[str, int]:
    """R10: purge quarantined items at their term, stray quarantine files, and exports older than 30 days."""
    client_id = client.client_id
    quarantined = _purge_quarantine(eng, client_id, "r10_quarantine_due", as_of=as_of, run_id=run_id, rule="R10")
    strays = _purge_quarantine_strays(eng, client_id, as_of=as_of, run_id=run_id)
    exports = _purge_exports(eng, client_id, as_of=as_of, run_id=run_id)
    return {
        "quarantine_items": quarantined["items"],
        "quarantine_files": quarantined["files"],
        "stray_quarantine_files": strays,
        "export_folders": exports["folders"],
        "export_files": exports["files"],
    }


def _quarantine_root() -> Path:
    return settings.kcm_home() / "quarantine"


def _quarantine_file(relative: str) -> Path:
    base = _quarantine_root().resolve()
    path = (base / relative).resolve()
    if base not in path.parents:
        raise ValueError("quarantine record path leaves the quarantine folder")
    return path


def _purge_quarantine(
    eng: Engine, client_id: str, statement: str, *, as_of: dt.date, run_id: str | None, rule: str
) -> dict[str, int]:
    """Delete quarantined files (and their reason files) first, then mark their records purged."""
    with eng.connect() as conn:
        due = _run(conn, statement, {"client_id": client_id, "as_of": as_of}).all()
    if not due:
        return {"items": 0, "files": 0}
    files = 0
    for record in due:
        path = _quarantine_file(record.path)
        for candidate in (path, path.with_name(path.name + ".reason.json")):
            if candidate.is_file() or candidate.is_symlink():
                candidate.unlink()
                files += 1
    checkpoint("quarantine_files_deleted")
    with _begin(eng) as conn:
        items = _run(
            conn, "r10_quarantine_mark_purged", {"as_of": as_of, "ids": [r.id for r in due]}, ("ids",)
        ).rowcount
        audit.append(
            conn,
            rule=rule,
            action="quarantine_purged",
            client_id=client_id,
            as_of=as_of,
            run_id=run_id,
            counts={"rows": {"quarantine_records": items}, "files": {"quarantine": files}},
        )
    log.info("%s: %s purged %d quarantined items (%d files)", client_id, rule, items, files)
    return {"items": items, "files": files}


def _purge_quarantine_strays(eng: Engine, client_id: str, *, as_of: dt.date, run_id: str | None) -> int:
    """Quarantine files no live record names (a crash between moving and recording) get the quarantine term too."""
    from include.quarantine import QUARANTINE_DAYS

    folder = settings.quarantine_dir(client_id)
    if not folder.is_dir():
        return 0
    with eng.connect() as conn:
        kept = {str(_quarantine_file(r.path)) for r in _run(conn, "r10_quarantine_kept", {"client_id": client_id})}
    kept |= {name + ".reason.json" for name in kept}
    removed = 0
    for path in sorted(folder.iterdir()):
        if str(path.resolve()) in kept or str(path) in kept:
            continue
        if (as_of - terms.written_on(path)).days >= QUARANTINE_DAYS:
            removed += _remove_tree(path) if path.is_dir() and not path.is_symlink() else _unlink(path)
    if removed:
        audit.append(
            eng,
            rule="R10",
            action="stray_quarantine_purged",
            client_id=client_id,
            as_of=as_of,
            run_id=run_id,
            counts={"files": {"quarantine": removed}},
        )
        log.info("%s: R10 purged %d stray quarantine files", client_id, removed)
    return removed


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def _purge_exports(eng: Engine, client_id: str, *, as_of: dt.date, run_id: str | None) -> dict[str, int]:
    """R10: subject-request exports live 30 days after they were written (every client's night checks)."""
    folder = settings.exports_dir()
    if not folder.is_dir():
        return {"folders": 0, "files": 0}
    folders = files = 0
    for path in sorted(folder.iterdir()):
        try:
            if (as_of - terms.written_on(path)).days < EXPORT_DAYS:
                continue
            files += _remove_tree(path) if path.is_dir() and not path.is_symlink() else _unlink(path)
        except FileNotFoundError:  # another client's night purged it first
            continue
        folders += 1
    if folders:
        audit.append(
            eng,
            rule="R10",
            action="exports_purged",
            client_id=client_id,
            as_of=as_of,
            run_id=run_id,
            counts={"folders": folders, "files": {"export": files}},
        )
        log.info("R10 purged %d export folders (%d files) older than %d days", folders, files, EXPORT_DAYS)
    return {"folders": folders, "files": files}


# --- R10 nothing lingers in the database files ---------------------------------------------


def vacuum_touched(eng: Engine, client_id: str, *, as_of: dt.date, run_id: str | None) -> dict[str, object]:
    """R10: on PostgreSQL, VACUUM the tables this night changed so dead row versions are removed.

    After VACUUM no query, dump or replica can read the old values, but PostgreSQL does
    not zero the space it frees: the bytes stay in the data files until new rows reuse
    it (measured with pageinspect: 9,963 of 10,000 overwritten values still in the raw
    pages right after VACUUM), or until VACUUM FULL / pg_repack rewrites the table. WAL
    and backups keep them for their own retention. SQLite needs nothing: it runs with
    secure_delete, which zeroes deleted and overwritten content (measured: 0 of 10,000).
    """
    summary = night_summary(eng, client_id, as_of)
    touched = sorted(t for t in summary["rows"] if t in PERSONAL_TABLES and summary["rows"][t])
    if eng.dialect.name != "postgresql" or not touched:
        return {"tables": touched, "vacuumed": 0}
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"VACUUM (ANALYZE) {', '.join(_check_identifier(t) for t in touched)}"))
    audit.append(
        eng, rule="R10", action="vacuumed", client_id=client_id, as_of=as_of, run_id=run_id, counts={"tables": touched}
    )
    log.info("%s: R10 vacuumed %s", client_id, ", ".join(touched))
    return {"tables": touched, "vacuumed": len(touched)}


# --- R12 ---------------------------------------------------------------------------------


def verify_audit(eng: Engine) -> dict[str, object]:
    """R12: recompute the audit trail's hash chain; raise when it is broken."""
    report = audit.verify(eng)
    if not report.ok:
        raise RuntimeError("R12 audit trail is broken:\n  " + "\n  ".join(report.problems))
    return {"events": report.events, "head_hash": report.head_hash}


def night_summary(eng: Engine, client_id: str, as_of: dt.date) -> dict:
    """What one client's night did, from its audit events (R12): counts per rule, table and file kind."""
    summary: dict = {
        "client_id": client_id,
        "as_of": as_of.isoformat(),
        "events": 0,
        "rules": {},
        "rows": Counter(),
        "files": Counter(),
        "actions": Counter(),
    }
    with eng.connect() as conn:
        events = _run(conn, "r12_night_events", {"client_id": client_id, "as_of": as_of}).all()
    for event in events:
        counts = json.loads(event.counts)
        summary["events"] += 1
        summary["actions"][event.action] += 1
        rule = summary["rules"].setdefault(event.rule, {"rows": Counter(), "files": Counter()})
        for kind in ("rows", "files"):
            for name, value in (counts.get(kind) or {}).items():
                rule[kind][name] += value
                summary[kind][name] += value
    for key in ("rows", "files", "actions"):
        summary[key] = dict(summary[key])
    summary["rules"] = {
        rule: {kind: dict(values) for kind, values in parts.items()} for rule, parts in summary["rules"].items()
    }
    rules = summary["rules"]
    summary["anonymised_respondents"] = rules.get("R2", {}).get("rows", {}).get("respondents", 0)
    summary["deleted_non_respondents"] = rules.get("R3", {}).get("rows", {}).get("respondents", 0)
    summary["destroyed_respondents"] = rules.get("R4", {}).get("rows", {}).get("respondents", 0)
    summary["recordings_deleted"] = summary["rows"].get("recordings", 0)
    summary["assignments_anonymised"] = summary["actions"].get("assignment_anonymised", 0)
    summary["assignments_destroyed"] = summary["actions"].get("assignment_destroyed", 0)
    return summary


# --- the whole night -----------------------------------------------------------------------


def run_night(
    eng: Engine,
    client: ClientConfig,
    as_of: dt.date,
    *,
    run_id: str | None,
    scrubber: Scrubber | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict:
    """Every step of one client's night in the DAG's order (for tests, the demo and benchmarks)."""
    from include import sync

    sync.apply_config(eng, client)
    finish_deletions(eng, client.client_id, as_of=as_of, run_id=run_id)
    destroy_requested(eng, client, as_of=as_of, run_id=run_id, batch_size=batch_size)
    delete_non_respondents(eng, client, as_of=as_of, run_id=run_id, batch_size=batch_size)
    anonymise_due(eng, client, as_of=as_of, run_id=run_id, scrubber=scrubber, batch_size=batch_size)
    enforce_k_anonymity(eng, client, as_of=as_of, run_id=run_id)
    purge_expired_files(eng, client, as_of=as_of, run_id=run_id)
    vacuum_touched(eng, client.client_id, as_of=as_of, run_id=run_id)
    return night_summary(eng, client.client_id, as_of)
