"""A warehouse with known contents, for the Retention view's tests (in-process and in a browser).

Two clients seen on the as-of day 2026-11-20 (due horizon 2026-12-20):

- noordzee_energie (term 3 months, non-respondents 2 months):
  a1 completed 2026-07-31, term ended 2026-10-31, its 6 respondents anonymised that night;
  a2 completed 2026-09-10, term ends 2026-12-10 (R2 due), 5 people with personal data, 2 recordings;
  a3 running, 7 people with personal data, 1 recording.
  Non-respondents: invited 2026-10-01 in a2 (due 2026-12-01), 2026-09-15 in a3 (due 2026-11-15:
  past due) and 2026-11-10 in a3 (due 2027-01-10, not within the horizon).
  Nights: 2026-10-31 anonymised 6 and deleted 1 recording; 2026-11-19 deleted 3 non-respondents.
  Proof of 2026-11-19 passed, with its report file.
- zuid_telecom (term 6 months): b1 completed 2026-10-01 with destruction requested for
  2026-12-01 (R4 due), 4 people, 1 recording; b2 running, 3 people. Proof of 2026-11-19 failed.
  Subject requests: one for zuid_telecom overdue (due 2026-11-01), one for all clients due
  2026-12-15, one completed.

Every personal value is invented with Faker('nl_NL') and kept in `planted`, so a test can
check that none of them reaches the page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from faker import Faker
from sqlalchemy.engine import Engine

from include import audit, config, settings, sync
from tests.factories import write_client

AS_OF = dt.date(2026, 11, 20)
NIGHT = dt.date(2026, 11, 19)
REPORT = "noordzee_energie/nightly/2026-11-19.html"  # where include.reports writes the night's report


@dataclass
class KnownWorld:
    """What the view must show for the world `build` made, per client id."""

    as_of: dt.date = AS_OF
    personal: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    recordings: dict[str, int] = field(default_factory=dict)
    due_respondents: dict[str, int] = field(default_factory=dict)
    due_non_respondents: dict[str, int] = field(default_factory=dict)
    overdue_non_respondents: dict[str, int] = field(default_factory=dict)
    proof_passed: dict[str, bool] = field(default_factory=dict)
    open_requests: dict[str, list[str]] = field(default_factory=dict)
    overdue_requests: list[str] = field(default_factory=list)
    report: str = REPORT
    planted: list[str] = field(default_factory=list)


class _People:
    """Inserts invented people (respondents + responses) and remembers every personal value."""

    def __init__(self, eng: Engine, world: KnownWorld, seed: int = 20261120) -> None:
        self.eng = eng
        self.world = world
        self.fake = Faker("nl_NL")
        self.fake.seed_instance(seed)
        self.next_ref = 1

    def add(
        self,
        client_id: str,
        assignment_id: str,
        *,
        invited_on: dt.date,
        responded: bool = True,
        anonymised_on: dt.date | None = None,
        recordings: int = 0,
    ) -> int:
        invited_at = dt.datetime.combine(invited_on, dt.time(10, 30), dt.UTC)
        person = {
            "respondent_ref": f"KL-{self.fake.unique.random_number(digits=8, fix_len=True)}",
            "first_name": self.fake.first_name(),
            "last_name": self.fake.last_name(),
            "email": self.fake.unique.email(),
            "phone": f"06-{self.fake.unique.random_number(digits=8, fix_len=True)}",
            "street": self.fake.street_name(),
            "postcode": self.fake.postcode(),
            "answer_text": self.fake.sentence(nb_words=8),
        }
        if anonymised_on:
            values = {key: None for key in person}
            values["respondent_ref"] = None
        else:
            values = person
            self.world.planted += [
                v for k, v in person.items() if k in ("respondent_ref", "email", "phone", "answer_text")
            ]
        with self.eng.begin() as conn:
            respondent_id = conn.execute(
                sa.text(
                    "INSERT INTO respondents (client_id, assignment_id, respondent_ref, invited_at, invited_on, "
                    "responded_at, first_name, last_name, email, phone, street, postcode, loaded_at, anonymised_on, "
                    "age_band, region) VALUES (:client_id, :assignment_id, :respondent_ref, :invited_at, :invited_on, "
                    ":responded_at, :first_name, :last_name, :email, :phone, :street, :postcode, :loaded_at, "
                    ":anonymised_on, :age_band, :region) RETURNING id"
                ),
                {
                    "client_id": client_id,
                    "assignment_id": assignment_id,
                    "respondent_ref": values["respondent_ref"],
                    "invited_at": invited_at,
                    "invited_on": invited_on,
                    "responded_at": invited_at + dt.timedelta(days=1) if responded else None,
                    "first_name": values["first_name"],
                    "last_name": values["last_name"],
                    "email": values["email"],
                    "phone": values["phone"],
                    "street": values["street"],
                    "postcode": values["postcode"],
                    "loaded_at": invited_at + dt.timedelta(days=2),
                    "anonymised_on": anonymised_on,
                    "age_band": "35-44" if anonymised_on else None,
                    "region": "NL-10" if anonymised_on else None,
                },
            ).scalar_one()
            if responded:
                conn.execute(
                    sa.text(
                        "INSERT INTO responses (respondent_id, client_id, assignment_id, nps, csat, answer_text) "
                        "VALUES (:id, :client_id, :assignment_id, 8, 4, :answer_text)"
                    ),
                    {"id": respondent_id, "client_id": client_id, "assignment_id": assignment_id,
                     "answer_text": values["answer_text"]},
                )  # fmt: skip
            for index in range(recordings):
                sha = f"{respondent_id:032x}{index:032x}"
                conn.execute(
                    sa.text(
                        "INSERT INTO recordings (client_id, assignment_id, respondent_id, file_name, stored_path, "
                        "sha256, recorded_at, duration_seconds, sample_rate, channels, sample_width, size_bytes, state) "
                        "VALUES (:client_id, :assignment_id, :respondent_id, :file_name, :stored_path, :sha256, "
                        ":recorded_at, 12.5, 8000, 1, 2, 200044, 'stored')"
                    ),
                    {
                        "client_id": client_id,
                        "assignment_id": assignment_id,
                        "respondent_id": respondent_id,
                        "file_name": f"{person['last_name']}_{index}.wav",
                        "stored_path": f"{client_id}/{assignment_id}/{sha}.wav",
                        "sha256": sha,
                        "recorded_at": invited_at + dt.timedelta(days=1),
                    },
                )
                self.world.planted.append(f"{person['last_name']}_{index}.wav")
        return respondent_id


def build(eng: Engine, clients_dir: Path) -> KnownWorld:
    """Fill a migrated, empty warehouse with the two clients above; return what the view must show."""
    world = KnownWorld()
    write_client(
        clients_dir,
        "noordzee_energie",
        name="Noordzee Energie B.V.",
        retention_months=3,
        assignments=[
            {
                "id": "a1",
                "title": "Klantonderzoek zomer",
                "completed_on": "2026-07-31",
                "destruction_requested_on": None,
            },
            {"id": "a2", "title": "Storingsdienst", "completed_on": "2026-09-10", "destruction_requested_on": None},
            {"id": "a3", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": None},
        ],
    )
    write_client(
        clients_dir,
        "zuid_telecom",
        name="Zuid Telecom N.V.",
        country="BE",
        retention_months=6,
        assignments=[
            {
                "id": "b1",
                "title": "Winkelbezoek",
                "completed_on": "2026-10-01",
                "destruction_requested_on": "2026-12-01",
            },
            {"id": "b2", "title": "Klantenservice", "completed_on": None, "destruction_requested_on": None},
        ],
    )
    for client_id in ("noordzee_energie", "zuid_telecom"):
        sync.apply_config(eng, config.get_client(client_id, clients_dir))
    with eng.begin() as conn:
        conn.execute(
            sa.text("UPDATE assignments SET status = 'anonymised', anonymised_on = :day WHERE assignment_id = 'a1'"),
            {"day": dt.date(2026, 10, 31)},
        )

    people = _People(eng, world)
    for _ in range(6):
        people.add("noordzee_energie", "a1", invited_on=dt.date(2026, 7, 1), anonymised_on=dt.date(2026, 10, 31))
    for index in range(4):
        people.add("noordzee_energie", "a2", invited_on=dt.date(2026, 9, 1), recordings=1 if index < 2 else 0)
    people.add("noordzee_energie", "a2", invited_on=dt.date(2026, 10, 1), responded=False)
    for index in range(5):
        people.add("noordzee_energie", "a3", invited_on=dt.date(2026, 11, 2), recordings=1 if index == 0 else 0)
    people.add("noordzee_energie", "a3", invited_on=dt.date(2026, 9, 15), responded=False)
    people.add("noordzee_energie", "a3", invited_on=dt.date(2026, 11, 10), responded=False)
    for index in range(4):
        people.add("zuid_telecom", "b1", invited_on=dt.date(2026, 9, 20), recordings=1 if index == 0 else 0)
    for _ in range(3):
        people.add("zuid_telecom", "b2", invited_on=dt.date(2026, 11, 5))

    world.personal = {"noordzee_energie": 12, "zuid_telecom": 7}
    world.anonymised = {"noordzee_energie": 6, "zuid_telecom": 0}
    world.recordings = {"noordzee_energie": 3, "zuid_telecom": 1}
    world.due_respondents = {"noordzee_energie": 5, "zuid_telecom": 4}
    world.due_non_respondents = {"noordzee_energie": 2, "zuid_telecom": 0}
    world.overdue_non_respondents = {"noordzee_energie": 1, "zuid_telecom": 0}

    _nights(eng)
    world.proof_passed = {"noordzee_energie": True, "zuid_telecom": False}
    report = settings.reports_dir() / REPORT
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("<html><body><h1>Proof noordzee_energie 2026-11-19: passed</h1></body></html>", encoding="utf-8")

    _requests(eng)
    world.open_requests = {"noordzee_energie": ["req-all-1"], "zuid_telecom": ["req-zt-1", "req-all-1"]}
    world.overdue_requests = ["req-zt-1"]
    return world


def _nights(eng: Engine) -> None:
    """The audit events (R12) the nightly runs of this world would have written."""
    night = "scheduled__2026-10-31T01:00:00+00:00"
    for event in (
        dict(rule="R2", action="recordings_deleted", assignment_id="a1", counts={"rows": {"recordings": 1}, "files": {"recording": 1}}),
        dict(rule="R2", action="respondents_anonymised", assignment_id="a1", counts={"rows": {"respondents": 6, "responses": 6}}),
        dict(rule="R2", action="assignment_anonymised", assignment_id="a1", counts={"respondents": 6}),
    ):  # fmt: skip
        audit.append(eng, client_id="noordzee_energie", as_of=dt.date(2026, 10, 31), run_id=night, **event)
    audit.append(
        eng,
        rule="R3",
        action="non_respondents_deleted",
        client_id="noordzee_energie",
        assignment_id="a3",
        as_of=NIGHT,
        run_id="scheduled__2026-11-19T01:00:00+00:00",
        counts={"rows": {"respondents": 3}, "invited_on_or_before": "2026-09-19"},
    )
    audit.append(
        eng,
        rule="R11",
        action="proof_passed",
        client_id="noordzee_energie",
        as_of=NIGHT,
        run_id="scheduled__2026-11-19T01:00:00+00:00",
        counts={"expectations": 14, "failed": 0, "not_applicable": 2, "failed_checks": {}},
    )
    audit.append(
        eng,
        rule="R11",
        action="proof_failed",
        client_id="zuid_telecom",
        as_of=NIGHT,
        run_id="scheduled__2026-11-19T01:00:00+00:00",
        counts={"expectations": 14, "failed": 1, "not_applicable": 2, "failed_checks": {"r2_respondents_email": 2}},
    )


def _requests(eng: Engine) -> None:
    with eng.begin() as conn:
        for request_id, kind, scope, received, due, status in (
            ("req-zt-1", "access", "zuid_telecom", dt.date(2026, 10, 1), dt.date(2026, 11, 1), "open"),
            ("req-all-1", "erasure", "*", dt.date(2026, 11, 15), dt.date(2026, 12, 15), "open"),
            ("req-nz-0", "export", "noordzee_energie", dt.date(2026, 10, 2), dt.date(2026, 11, 2), "done"),
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO subject_requests (request_id, request_type, client_scope, received_on, due_on, status, "
                    "identifier_kinds, subject_hmac, run_id, recorded_at, outcome) VALUES (:request_id, :kind, :scope, "
                    ":received, :due, :status, 'email', :hmac, :run_id, :recorded_at, :outcome)"
                ),
                {
                    "request_id": request_id,
                    "kind": kind,
                    "scope": scope,
                    "received": received,
                    "due": due,
                    "status": status,
                    "hmac": hashlib.sha256(request_id.encode()).hexdigest(),
                    "run_id": f"manual__{request_id}",
                    "recorded_at": dt.datetime.combine(received, dt.time(9), dt.UTC),
                    "outcome": json.dumps({}),
                },
            )
