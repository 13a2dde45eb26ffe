"""A client after one real night of the pipeline, for the proof and report tests.

People (Faker nl_NL, every personal value made unique so a leak is found by search) are
written straight into the warehouse and the file stores, then include.retention runs the
night of 1 March 2027. Values that were ever planted are collected in `Night.planted`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from faker import Faker

from include import quarantine, recordings_store, retention, settings
from include.config import ClientConfig, parse_client_file
from tests.factories import write_client

AS_OF = dt.date(2027, 3, 1)
RUN_ID = "scheduled__2027-03-01T01:00:00+00:00"
ASSIGNMENTS = [
    # Term ended 30 December 2026: anonymised tonight (R2).
    {
        "id": "nps-2026-q2",
        "title": "Klanttevredenheid Q2 2026",
        "completed_on": "2026-06-30",
        "destruction_requested_on": None,
    },
    {"id": "lopend-2027", "title": "Lopend onderzoek 2027", "completed_on": None, "destruction_requested_on": None},
    # Term ends 15 August 2027: untouched tonight.
    {
        "id": "winter-2027",
        "title": "Winteronderzoek 2027",
        "completed_on": "2027-02-15",
        "destruction_requested_on": None,
    },
    # The client asked for early destruction on 1 February 2027 (R4).
    {"id": "pilot-2026", "title": "Pilot 2026", "completed_on": "2026-10-01", "destruction_requested_on": "2027-02-01"},
]
PAST_TERM, RUNNING, WITHIN_TERM, DESTROYED = (a["id"] for a in ASSIGNMENTS)


def kept_scrubber(items):
    """Stands in for the open-text scrubber (slow to build): every answer comes back scrubbed."""
    return ["De medewerker <NAAM> hielp mij vriendelijk en snel." for _ in items]


@dataclass
class Night:
    eng: sa.Engine
    client: ClientConfig
    as_of: dt.date = AS_OF
    run_id: str = RUN_ID
    planted: set[str] = field(default_factory=set)
    summary: dict = field(default_factory=dict)
    fake: Faker = field(default_factory=lambda: Faker("nl_NL"))

    def unique(self, value: str) -> str:
        """A realistic value made unique, remembered so reports can be searched for it."""
        value = f"{value}{secrets.token_hex(3)}"
        self.planted.add(value)
        return value

    def remember(self, value: str) -> str:
        self.planted.add(value)
        return value

    def person(self, assignment_id: str, *, invited_on: dt.date, responded: bool = True, answer: bool = True) -> int:
        """Write one invited person (and their answers) as ingest would; returns the respondent id."""
        fake = self.fake
        invited_at = dt.datetime.combine(invited_on, dt.time(9, 30), dt.UTC)
        responded_at = invited_at + dt.timedelta(days=2, hours=3, minutes=17) if responded else None
        row = {
            "client_id": self.client.client_id,
            "assignment_id": assignment_id,
            "respondent_ref": self.unique("KLANT-"),
            "invited_at": invited_at,
            "invited_on": invited_on,
            "responded_at": responded_at,
            "first_name": self.unique(fake.first_name()),
            "last_name": self.unique(fake.last_name()),
            "email": self.unique(f"{fake.user_name()}.") + "@example.nl",
            "phone": self.remember(f"+316{secrets.randbelow(10**8):08d}"),
            "street": self.unique(fake.street_name()),
            "house_number": str(fake.building_number()),
            "postcode": fake.postcode(),
            "city": self.unique(fake.city()),
            "birth_date": fake.date_of_birth(minimum_age=19, maximum_age=80),
            "gender": fake.random_element(["man", "vrouw"]),
            "marital_status": fake.random_element(["gehuwd", "ongehuwd"]),
            "customer_number": self.unique("CN"),
            "transaction_id": self.unique("TX"),
            "transaction_date": invited_on - dt.timedelta(days=11),
            "complaint_history": self.unique("Klacht over de factuur van "),
            "loaded_at": invited_at,
        }
        self.planted.add(row["email"])
        with self.eng.begin() as conn:
            respondent_id = conn.execute(
                sa.text(
                    f"INSERT INTO respondents ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)}) RETURNING id"
                ),
                row,
            ).scalar_one()
            if responded:
                conn.execute(
                    sa.text(
                        "INSERT INTO responses (respondent_id, client_id, assignment_id, nps, csat, answer_text, "
                        "ip_address, user_agent) VALUES (:id, :client_id, :assignment_id, :nps, :csat, :answer_text, "
                        ":ip_address, :user_agent)"
                    ),
                    {
                        "id": respondent_id,
                        "client_id": self.client.client_id,
                        "assignment_id": assignment_id,
                        "nps": fake.random_int(0, 10),
                        "csat": fake.random_int(1, 5),
                        "answer_text": self.unique(f"Ik ben {row['first_name']}, mail me op {row['email']} ")
                        if answer
                        else None,
                        "ip_address": fake.ipv4_private(),
                        "user_agent": self.unique("Mozilla/5.0 "),
                    },
                )
        return respondent_id

    def recording(self, assignment_id: str, respondent_id: int, *, row: bool = True) -> str:
        """Store a WAV for a respondent (and its row unless row=False); returns its stored_path."""
        content = b"RIFF" + secrets.token_bytes(64)
        sha = hashlib.sha256(content).hexdigest()
        stored = recordings_store.stored_path(self.client.client_id, assignment_id, sha)
        path = recordings_store.path_of(stored)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if row:
            with self.eng.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO recordings (client_id, assignment_id, respondent_id, file_name, stored_path, sha256, "
                        "recorded_at, duration_seconds, sample_rate, channels, sample_width, size_bytes, state) VALUES "
                        "(:client_id, :assignment_id, :respondent_id, :file_name, :stored_path, :sha256, :recorded_at, "
                        "12.5, 8000, 1, 2, :size, 'stored')"
                    ),
                    {
                        "client_id": self.client.client_id,
                        "assignment_id": assignment_id,
                        "respondent_id": respondent_id,
                        "file_name": self.unique("gesprek_") + ".wav",
                        "stored_path": stored,
                        "sha256": sha,
                        "recorded_at": dt.datetime(2027, 2, 20, 10, 0, tzinfo=dt.UTC),
                        "size": len(content),
                    },
                )
        return stored

    def quarantined_file(self, created_on: dt.date) -> Path:
        """A rejected delivery file in quarantine with its record, as ingest leaves it."""
        source = settings.landing_dir(self.client.client_id) / "responses_kapot.csv"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(f"assignment_id;email\n{PAST_TERM};{self.unique('kapot.')}@example.nl\n", encoding="utf-8")
        with self.eng.begin() as conn:
            return quarantine.quarantine_file(
                conn,
                client_id=self.client.client_id,
                source=source,
                delivery_id=None,
                sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
                reason_code="missing_columns",
                reason="required columns respondent_ref, invited_at are missing",
                as_of=created_on,
            )

    def run(self, as_of: dt.date | None = None, run_id: str | None = None) -> dict:
        """One night of the real pipeline (include.retention)."""
        self.summary = retention.run_night(
            self.eng, self.client, as_of or self.as_of, run_id=run_id or self.run_id, scrubber=kept_scrubber
        )
        return self.summary


def client_config(clients_dir: Path, client_id: str = "acme_energie", **fields) -> ClientConfig:
    """A client config file as the data team writes it, parsed as the DAGs parse it."""
    fields.setdefault("assignments", ASSIGNMENTS)
    fields.setdefault("retention_months", 6)
    fields.setdefault("name", "Acme Energie B.V.")
    return parse_client_file(write_client(clients_dir, client_id, **fields))


def set_mtime(path: Path, day: dt.date) -> None:
    moment = dt.datetime.combine(day, dt.time(12, 0), dt.UTC).timestamp()
    os.utime(path, (moment, moment))


def populated(eng: sa.Engine, client: ClientConfig, *, seed: int = 20270301) -> Night:
    """The client's people, answers, recordings and quarantine before the night of AS_OF."""
    night = Night(eng, client)
    night.fake.seed_instance(seed)
    from include import sync

    sync.apply_config(eng, client)
    days = itertools.cycle(range(1, 28))
    for _ in range(24):
        night.person(PAST_TERM, invited_on=dt.date(2026, 5, next(days)))
    first_past_term = night.person(PAST_TERM, invited_on=dt.date(2026, 6, 1))
    night.person(PAST_TERM, invited_on=dt.date(2026, 5, 3), responded=False)  # R3 deletes tonight
    running = [night.person(RUNNING, invited_on=dt.date(2027, 2, next(days))) for _ in range(4)]
    night.person(RUNNING, invited_on=dt.date(2027, 2, 15), responded=False)  # within the R3 term
    night.person(RUNNING, invited_on=dt.date(2026, 12, 1), responded=False)  # R3 deletes tonight
    for _ in range(3):
        night.person(WITHIN_TERM, invited_on=dt.date(2027, 1, next(days)))
    destroyed = [night.person(DESTROYED, invited_on=dt.date(2026, 9, next(days))) for _ in range(3)]
    night.recording(PAST_TERM, first_past_term)
    night.recording(RUNNING, running[0])
    night.recording(DESTROYED, destroyed[0])
    return night
