"""A small world for the retention tests: clients, people, answers, recordings and quarantined files,
loaded with plain SQL the way the ingest stores them; and a snapshot of everything a night can change.

The other tests/test_retention_*.py files import these helpers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import random
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from faker import Faker
from sqlalchemy.engine import Engine

from include import config, quarantine, recordings_store, settings, sync
from include.sample_data import write_wav
from tests.factories import write_client

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_refs = itertools.count(1)


def client(clients_dir: Path, client_id: str = "acme", **fields) -> config.ClientConfig:
    """Write a client YAML and return its parsed config."""
    write_client(clients_dir, client_id, **fields)
    return config.get_client(client_id)


def sync_client(eng: Engine, clients_dir: Path, client_id: str = "acme", **fields) -> config.ClientConfig:
    cfg = client(clients_dir, client_id, **fields)
    sync.apply_config(eng, cfg)
    return cfg


def _moment(value: str | dt.datetime | None) -> dt.datetime | None:
    """A delivered timestamp as UTC (no offset means Europe/Amsterdam, design §4)."""
    if value in (None, ""):
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=AMSTERDAM)
    return moment.astimezone(dt.UTC)


def _stored(eng: Engine, moment: dt.datetime | None):
    """Timestamps as the ingest stores them: SQLAlchemy's UTC text on SQLite, timestamptz on PostgreSQL."""
    if moment is None or eng.dialect.name == "postgresql":
        return moment
    return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def person(
    assignment_id: str = "a1",
    *,
    invited_at: str = "2026-06-01T10:00:00+02:00",
    responded_at: str | None = None,
    seed: int | None = None,
    **fields,
) -> dict:
    """One invited person as a delivery row would carry them, with Faker nl_NL details."""
    number = next(_refs)
    fake = Faker("nl_NL")
    fake.seed_instance(seed if seed is not None else number)
    row = {
        "assignment_id": assignment_id,
        "respondent_ref": f"R{number:07d}",
        "invited_at": invited_at,
        "responded_at": responded_at,
        "first_name": fake.first_name(),
        "last_name": fake.last_name(),
        "email": fake.email(),
        "phone": fake.phone_number(),
        "street": fake.street_name(),
        "house_number": str(fake.building_number()),
        "postcode": fake.postcode(),
        "city": fake.city(),
        "birth_date": fake.date_of_birth(minimum_age=18, maximum_age=90).isoformat(),
        "gender": random.Random(number).choice(("man", "vrouw")),
        "marital_status": "gehuwd",
        "customer_number": f"K{fake.random_number(digits=8, fix_len=True)}",
        "transaction_id": f"TX-{fake.random_number(digits=10, fix_len=True)}",
        "transaction_date": "2026-05-20",
        "complaint_history": "1 klacht(en) sinds 2025: factuur",
        "nps": None,
        "csat": None,
        "answer_text": None,
        "ip_address": None,
        "user_agent": None,
    }
    if responded_at:
        row.update(
            nps="8",
            csat="4",
            answer_text="De medewerker was vriendelijk.",
            ip_address=fake.ipv4_public(),
            user_agent=fake.user_agent(),
        )
    row.update(fields)
    return row


_RESPONDENT_COLUMNS = (
    "first_name", "last_name", "email", "phone", "street", "house_number", "postcode", "city", "birth_date",
    "gender", "marital_status", "customer_number", "transaction_id", "transaction_date", "complaint_history",
)  # fmt: skip


def load_people(eng: Engine, client_id: str, rows: Iterable[dict]) -> dict[str, int]:
    """Insert invited people (and the answers of those who responded); returns respondent_ref -> id."""
    ids: dict[str, int] = {}
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with eng.begin() as conn:
        for row in rows:
            invited = _moment(row["invited_at"])
            responded = _moment(row.get("responded_at"))
            values = {c: (row.get(c) or None) for c in _RESPONDENT_COLUMNS}
            for day in ("birth_date", "transaction_date"):
                values[day] = dt.date.fromisoformat(values[day]) if values[day] else None
            respondent_id = conn.execute(
                sa.text(
                    "INSERT INTO respondents (client_id, assignment_id, respondent_ref, invited_at, invited_on, "
                    f"responded_at, {', '.join(_RESPONDENT_COLUMNS)}, loaded_at) VALUES (:client_id, :assignment_id, "
                    f":respondent_ref, :invited_at, :invited_on, :responded_at, "
                    f"{', '.join(':' + c for c in _RESPONDENT_COLUMNS)}, :loaded_at) RETURNING id"
                ),
                {
                    **values,
                    "client_id": client_id,
                    "assignment_id": row["assignment_id"],
                    "respondent_ref": row["respondent_ref"],
                    "invited_at": _stored(eng, invited),
                    "invited_on": invited.astimezone(AMSTERDAM).date(),
                    "responded_at": _stored(eng, responded),
                    "loaded_at": _stored(eng, now),
                },
            ).scalar_one()
            ids[row["respondent_ref"]] = respondent_id
            if responded:
                conn.execute(
                    sa.text(
                        "INSERT INTO responses (respondent_id, client_id, assignment_id, nps, csat, answer_text, "
                        "ip_address, user_agent) VALUES (:id, :client_id, :assignment_id, :nps, :csat, :answer_text, "
                        ":ip_address, :user_agent)"
                    ),
                    {
                        "id": respondent_id,
                        "client_id": client_id,
                        "assignment_id": row["assignment_id"],
                        "nps": int(row["nps"]) if row.get("nps") not in (None, "") else None,
                        "csat": int(row["csat"]) if row.get("csat") not in (None, "") else None,
                        "answer_text": row.get("answer_text") or None,
                        "ip_address": row.get("ip_address") or None,
                        "user_agent": row.get("user_agent") or None,
                    },
                )
    return ids


def add_recording(
    eng: Engine, tmp_path: Path, client_id: str, assignment_id: str, respondent_id: int, seed: int
) -> Path:
    """Store a real WAV for a respondent, as the recordings ingest does; returns the stored file."""
    source = tmp_path / f"incoming-{seed}.wav"
    sha = write_wav(source, seconds=0.2, seed=seed)
    stored = recordings_store.stored_path(client_id, assignment_id, sha)
    assert recordings_store.put(source, stored, sha)
    source.unlink()
    with eng.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO recordings (client_id, assignment_id, respondent_id, file_name, stored_path, sha256, "
                "recorded_at, duration_seconds, sample_rate, channels, sample_width, size_bytes, state) VALUES "
                "(:c, :a, :r, :name, :path, :sha, NULL, 0.2, 8000, 1, 2, :size, 'stored')"
            ),
            {
                "c": client_id,
                "a": assignment_id,
                "r": respondent_id,
                "name": f"gesprek_{seed}.wav",
                "path": stored,
                "sha": sha,
                "size": recordings_store.path_of(stored).stat().st_size,
            },
        )
    return recordings_store.path_of(stored)


def quarantine_a_file(
    eng: Engine, tmp_path: Path, client_id: str, *, on: dt.date, content: str, name: str = "responses_kapot.csv"
) -> Path:
    """Quarantine a whole delivery file on a day, as the ingest does; returns the quarantined file."""
    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    with eng.begin() as conn:
        return quarantine.quarantine_file(
            conn,
            client_id=client_id,
            source=source,
            delivery_id=None,
            sha256=hashlib.sha256(content.encode()).hexdigest(),
            reason_code="encoding",
            reason=f"{name}: not UTF-8",
            as_of=on,
        )


def rows(eng: Engine, statement: str, **params) -> list:
    with eng.connect() as conn:
        return conn.execute(sa.text(statement), params).all()


def scalar(eng: Engine, statement: str, **params):
    with eng.connect() as conn:
        return conn.execute(sa.text(statement), params).scalar()


SNAPSHOT_TABLES = {
    "clients": "client_id",
    "assignments": "client_id, assignment_id",
    "respondents": "id",
    "responses": "respondent_id",
    "recordings": "id",
    "quarantine_records": "id",
}


def snapshot(eng: Engine, home: Path | None = None) -> dict:
    """Everything a night can change, as comparable text: tables (but the audit trail and sync times) and files."""
    state: dict = {}
    with eng.connect() as conn:
        for table, order in SNAPSHOT_TABLES.items():
            result = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order}")).mappings().all()
            state[table] = [
                {k: _comparable(v) for k, v in row.items() if k not in ("synced_at", "loaded_at")} for row in result
            ]
    home = home or settings.kcm_home()
    state["files"] = sorted(
        str(p.relative_to(home))
        for p in home.rglob("*")
        if p.is_file() and p.parts[len(home.parts)] in ("recordings", "quarantine", "exports", "landing")
    )
    return state


def _comparable(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


# --- the helpers do what the ingest would -------------------------------------------------


def test_people_load_with_their_invitation_day_in_amsterdam_and_answers_only_when_they_responded(
    warehouse, clients_dir
):
    sync_client(warehouse, clients_dir)
    late_evening = person(invited_at="2027-01-31T23:30:00+01:00")
    early_utc = person(invited_at="2027-02-28T23:30:00+00:00", responded_at="2027-03-01T09:00:00")
    load_people(warehouse, "acme", [late_evening, early_utc])
    days = dict(rows(warehouse, "SELECT respondent_ref, invited_on FROM respondents"))
    assert str(days[late_evening["respondent_ref"]]) == "2027-01-31"
    assert str(days[early_utc["respondent_ref"]]) == "2027-03-01"
    assert scalar(warehouse, "SELECT count(*) FROM responses") == 1


def test_a_stored_recording_is_content_addressed_without_any_name(warehouse, clients_dir, tmp_path):
    sync_client(warehouse, clients_dir)
    ids = load_people(warehouse, "acme", [person(responded_at="2026-06-02T10:00:00+02:00")])
    stored = add_recording(warehouse, tmp_path, "acme", "a1", next(iter(ids.values())), seed=1)
    assert stored.is_file() and stored.parent.name == "a1" and stored.parent.parent.name == "acme"
    assert snapshot(warehouse)["files"] == [str(stored.relative_to(settings.kcm_home()))]
