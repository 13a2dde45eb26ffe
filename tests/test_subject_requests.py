"""Data-subject requests (R6, R7) end to end through Airflow's runner, on SQLite and PostgreSQL.

The population: two clients of invented people (Faker nl_NL); one person, whose
values are planted so they can be searched for, appears in two assignments of
acme and in beta, with call recordings, rejected rows and a whole file in
quarantine, and a mention in someone else's open answer.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from faker import Faker

from include import audit, identifiers, recordings_store, sample_data, settings, subject_requests, sync
from include.config import get_client
from tests.factories import write_client

AS_OF = dt.date(2026, 11, 20)
RUN_DAY = "2026-11-20T08:00:00+00:00"
SECRET = "test-only-suppression-secret-0123456789abcdef"
DAG_ID = "kcm_subject_request"


@pytest.fixture(autouse=True)
def suppression_secret(monkeypatch):
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", SECRET)


# --- the population ------------------------------------------------------------------------


@dataclass
class Person:
    """The planted person: the values a test searches for after erasure."""

    email: str
    phone_delivered: str
    phone: str
    ref: str
    beta_ref: str
    customer_number: str
    last_name: str
    first_name: str
    respondent_ids: dict[str, list[int]] = field(default_factory=dict)
    recordings: list[str] = field(default_factory=list)

    @property
    def planted(self) -> list[str]:
        """Values unique to this person, as they could appear in any store."""
        national = "0" + self.phone.removeprefix("+31")
        return [self.email, self.phone, national, self.ref, self.customer_number, self.last_name]


@dataclass
class World:
    person: Person
    other_email: str
    quarantine: dict[str, Path]


def _table(eng, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=eng)


def _insert_people(eng, client_id: str, rows: list[dict], delivery_id: int | None = None) -> list[int]:
    """Load delivery rows (as sample_data writes them) the way the ingest stores them."""
    respondents, responses = _table(eng, "respondents"), _table(eng, "responses")
    ids = []
    with eng.begin() as conn:
        for row in rows:
            invited = dt.datetime.fromisoformat(row["invited_at"])
            invited = invited if invited.tzinfo else invited.replace(tzinfo=sample_data.AMSTERDAM)
            responded = dt.datetime.fromisoformat(row["responded_at"]) if row["responded_at"] else None
            if responded and not responded.tzinfo:
                responded = responded.replace(tzinfo=sample_data.AMSTERDAM)
            person = {
                "client_id": client_id, "assignment_id": row["assignment_id"], "respondent_ref": row["respondent_ref"],
                "invited_at": invited.astimezone(dt.UTC), "invited_on": invited.astimezone(sample_data.AMSTERDAM).date(),
                "responded_at": responded.astimezone(dt.UTC) if responded else None,
                "first_name": row["first_name"], "last_name": row["last_name"],
                "email": identifiers.normalise_email(row["email"]), "phone": identifiers.normalise_phone(row["phone"]),
                "street": row["street"], "house_number": row["house_number"],
                "postcode": identifiers.normalise_postcode(row["postcode"]), "city": row["city"],
                "birth_date": dt.date.fromisoformat(row["birth_date"]), "gender": row["gender"],
                "marital_status": row["marital_status"] or None, "customer_number": row["customer_number"],
                "transaction_id": row["transaction_id"],
                "transaction_date": dt.date.fromisoformat(row["transaction_date"]),
                "complaint_history": row["complaint_history"] or None, "delivery_id": delivery_id,
                "loaded_at": dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC),
            }  # fmt: skip
            new_id = conn.execute(sa.insert(respondents).values(**person).returning(respondents.c.id)).scalar_one()
            ids.append(new_id)
            if responded:
                conn.execute(sa.insert(responses).values(
                    respondent_id=new_id, client_id=client_id, assignment_id=row["assignment_id"],
                    nps=int(row["nps"]), csat=int(row["csat"]), answer_text=row["answer_text"] or None,
                    ip_address=row["ip_address"] or None, user_agent=row["user_agent"] or None,
                ))  # fmt: skip
    return ids


def _store_recording(eng, client_id: str, assignment_id: str, respondent_id: int, file_name: str, seed: int) -> str:
    temporary = settings.kcm_home() / f"incoming-{seed}.wav"
    sha = sample_data.write_wav(temporary, seconds=0.5, seed=seed)
    stored = recordings_store.stored_path(client_id, assignment_id, sha)
    assert recordings_store.put(temporary, stored, sha)  # the local store, or the client's s3:// store
    size = temporary.stat().st_size
    temporary.unlink()
    with eng.begin() as conn:
        conn.execute(sa.insert(_table(eng, "recordings")).values(
            client_id=client_id, assignment_id=assignment_id, respondent_id=respondent_id, file_name=file_name,
            stored_path=stored, sha256=sha, recorded_at=dt.datetime(2026, 10, 2, 10, tzinfo=dt.UTC),
            duration_seconds=0.5, sample_rate=8000, channels=1, sample_width=2,
            size_bytes=size, state="stored",
        ))  # fmt: skip
    return stored


def _quarantine_record(eng, client_id: str, path: Path, kind: str, rows: int) -> None:
    with eng.begin() as conn:
        conn.execute(sa.insert(_table(eng, "quarantine_records")).values(
            client_id=client_id, kind=kind, path=path.relative_to(settings.kcm_home() / "quarantine").as_posix(),
            reason_code="bad_rows" if kind == "rows" else "encoding", reason="test", rows=rows,
            created_on=dt.date(2026, 11, 3), purge_on=dt.date(2026, 12, 3),
        ))  # fmt: skip
    path.with_name(path.name + ".reason.json").write_text(json.dumps({"rows": rows}), encoding="utf-8")


def _write_rejected(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["_record", "_reasons", *header])
        for number, cells in enumerate(rows, start=1):
            writer.writerow([number, "nps:range", *cells])
    return path


def build_world(eng, clients_dir: Path, *, seed: int = 7) -> World:
    """Two clients of invented people, one planted person in both (two assignments of acme)."""
    fake = Faker("nl_NL")
    fake.seed_instance(seed)
    tag = uuid.uuid4().hex[:6]
    for client_id in ("acme", "beta"):
        write_client(clients_dir, client_id, assignments=[
            {"id": "a1", "title": "Klanttevredenheid najaar", "completed_on": "2026-10-31", "destruction_requested_on": None},
            {"id": "a2", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": None},
        ])  # fmt: skip
        sync.apply_config(eng, get_client(client_id))
    digits = f"6{int(tag, 16) % 10**8:08d}"
    person = Person(
        email=f"{fake.first_name().lower()}.planted{tag}@example.nl",
        phone_delivered=f"0{digits[0]}-{digits[1:]}",
        phone=f"+31{digits}",
        ref=f"RP{tag.upper()}",
        beta_ref=f"RB{tag.upper()}",
        customer_number=f"KP{tag.upper()}",
        last_name=f"{fake.last_name()}-Zwanckel{tag}",
        first_name=fake.first_name(),
    )
    others: dict[str, list[dict]] = {}
    for number, client_id in enumerate(("acme", "beta")):
        crowd = sample_data.fake_respondents(12, assignment_ids=["a1", "a2"], seed=seed * 10 + number,
                                             as_of=dt.date(2026, 10, 20), response_rate=1.0)  # fmt: skip
        others[client_id] = crowd
    # Someone else's open answer mentions the person's e-mail.
    others["acme"][0]["answer_text"] = f"Mijn buurvrouw ({person.email.upper()}) had hetzelfde probleem."
    template = dict(others["acme"][1])
    for client_id, rows in others.items():
        _insert_people(eng, client_id, rows)

    def planted(assignment_id: str, ref: str, text: str) -> dict:
        return {**template, "assignment_id": assignment_id, "respondent_ref": ref, "first_name": person.first_name,
                "last_name": person.last_name, "email": person.email.upper(), "phone": person.phone_delivered,
                "customer_number": person.customer_number, "answer_text": text}  # fmt: skip

    person.respondent_ids["acme"] = _insert_people(eng, "acme", [
        planted("a1", person.ref, f"=HYPERLINK(\"x\") bel mij op {person.phone_delivered}"),
        planted("a2", person.ref, "Prima geholpen."),
    ])  # fmt: skip
    person.respondent_ids["beta"] = _insert_people(eng, "beta", [planted("a1", person.beta_ref, "Goed.")])
    for number, (client_id, ids) in enumerate(sorted(person.respondent_ids.items())):
        person.recordings.append(
            _store_recording(eng, client_id, "a1", ids[0], f"gesprek_{person.last_name}.wav", seed * 100 + number)
        )
    bystander = others["acme"][5]
    with eng.connect() as conn:
        bystander_id = conn.execute(
            sa.text(
                "SELECT id FROM respondents WHERE client_id = 'acme' AND respondent_ref = :r AND assignment_id = :a"
            ),
            {"r": bystander["respondent_ref"], "a": bystander["assignment_id"]},
        ).scalar_one()
    _store_recording(eng, "acme", bystander["assignment_id"], bystander_id, "gesprek_ander.wav", seed * 100 + 9)

    # Quarantine of acme: rejected rows, a whole file, a rejected manifest row with its WAV.
    folder = settings.quarantine_dir("acme")
    columns = list(sample_data.RESPONSE_COLUMNS)
    person_row = [planted("a1", person.ref, "")[c] for c in columns]
    other_row = [others["acme"][3][c] for c in columns]
    rows_file = _write_rejected(folder / "0123456789abcdef-responses_20261101.rejected.csv", columns,
                                [other_row, person_row, other_row])  # fmt: skip
    _quarantine_record(eng, "acme", rows_file, "rows", 3)
    whole = sample_data.write_responses_csv(folder / "fedcba9876543210-responses_20261102_latin1.csv",
                                            [others["acme"][4], planted("a2", person.ref, "")],
                                            encoding="latin-1")  # fmt: skip
    _quarantine_record(eng, "acme", whole, "file", 0)
    manifest_rows = [["gesprek_van_ander.wav", "a1", others["acme"][6]["respondent_ref"], "2026-10-02T10:00:00", "0" * 64],
                     [f"gesprek_{person.last_name}_2.wav", "a1", person.ref, "2026-10-02T11:00:00", "1" * 64]]  # fmt: skip
    manifest = _write_rejected(folder / "00112233aabbccdd-recordings_20261103.rejected.csv",
                               list(sample_data.MANIFEST_COLUMNS), manifest_rows)  # fmt: skip
    _quarantine_record(eng, "acme", manifest, "rows", 2)
    wavs = {}
    for record in (1, 2, 20):  # record 20 belongs to a later row; its name starts like record 2's
        wav = folder / f"{record:016x}-recordings_20261103.record{record}.wav"
        sample_data.write_wav(wav, seconds=0.2, seed=record)
        _quarantine_record(eng, "acme", wav, "file", 0)
        wavs[record] = wav
    return World(person, other_email=identifiers.normalise_email(others["acme"][2]["email"]),
                 quarantine={"rows": rows_file, "whole": whole, "manifest": manifest,
                             "person_wav": wavs[2], "other_wav": wavs[1], "record20_wav": wavs[20]})  # fmt: skip


# --- looking for the person ---------------------------------------------------------------------


def warehouse_hits(eng, values: list[str]) -> dict[str, int]:
    """Rows of every warehouse table holding any of the values (compared case-insensitively as text)."""
    needles = [v.lower() for v in values]
    hits = {}
    for table in sa.inspect(eng).get_table_names():
        with eng.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()
        found = sum(1 for row in rows if any(n in " ".join(str(v) for v in row).lower() for n in needles))
        if found:
            hits[table] = found
    return hits


def file_hits(root: Path, values: list[str]) -> list[str]:
    """Files under root whose bytes hold any of the values (UTF-8 or Latin-1, case-insensitive)."""
    needles = [v.lower() for v in values]
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            text = (data.decode("utf-8", errors="ignore") + data.decode("latin-1")).lower()
            if any(n in text for n in needles):
                found.append(str(path.relative_to(root)))
    return sorted(found)


def _conf(request_type: str, **fields) -> dict:
    return {"client": "all", "request_type": request_type, "received_on": "2026-11-18", **fields}


def _only_request(eng) -> dict:
    with eng.connect() as conn:
        return dict(conn.execute(sa.text("SELECT * FROM subject_requests")).mappings().one())


def _events(eng, action: str | None = None) -> list[dict]:
    with eng.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.text("SELECT * FROM audit_events ORDER BY seq")).mappings()]
    return [r for r in rows if action is None or r["action"] == action]


def _succeeded(dag_run) -> bool:
    return str(getattr(dag_run.state, "value", dag_run.state)) == "success"


@pytest.fixture
def world(warehouse, clients_dir) -> World:
    return build_world(warehouse, clients_dir)


# --- access and export ----------------------------------------------------------------------------


def test_access_request_by_email_answers_with_everything_held_in_both_clients(world, warehouse, run_dag, kcm_home):
    person = world.person
    dag_run = run_dag(DAG_ID, RUN_DAY, conf=_conf("access", email=f"  {person.email.title()} "))
    assert _succeeded(dag_run)

    request = _only_request(warehouse)
    assert request["status"] == "done"
    assert str(request["due_on"])[:10] == "2026-12-18"  # received 18 Nov + one calendar month
    folder = kcm_home / request["export_path"]
    document = json.loads((folder / "subject.json").read_text(encoding="utf-8"))
    assert set(document["controllers"]) == {"acme", "beta"}
    acme = document["controllers"]["acme"]
    assert sorted(r["assignment_id"] for r in acme["respondents"]) == ["a1", "a2"]
    assert {r["last_name"] for r in acme["respondents"]} == {person.last_name}
    assert len(acme["responses"]) == 2 and len(acme["recordings"]) == 1
    assert len(acme["quarantined_rows"]) >= 2  # the rejected response row, the rejected manifest row, the whole file
    assert len(document["controllers"]["beta"]["respondents"]) == 1
    assert not (folder / "recordings").exists()  # access lists recordings; the export carries them

    with (folder / "responses.csv").open(encoding="utf-8", newline="") as handle:
        answers = [row["answer_text"] for row in csv.DictReader(handle)]
    assert any(a.startswith("'=HYPERLINK") for a in answers), "a formula must reach the spreadsheet as text"
    with (folder / "respondents.csv").open(encoding="utf-8", newline="") as handle:
        assert {row["phone"] for row in csv.DictReader(handle)} == {"'" + person.phone}
    outcome = json.loads(request["outcome"])
    assert outcome["clients"]["acme"]["respondents"] == 2 and outcome["clients"]["beta"]["respondents"] == 1
    places = [p for p in file_hits(kcm_home, [person.email]) if p != "warehouse.db"]
    assert f"{request['export_path']}/subject.json" in places
    assert all(p.startswith((request["export_path"], "quarantine/acme/")) for p in places), places


def test_export_request_by_phone_in_one_client_carries_the_recording_files(world, warehouse, run_dag, kcm_home):
    person = world.person
    dag_run = run_dag(DAG_ID, RUN_DAY, conf=_conf("export", client="acme", phone="+31 (0)" + person.phone[3:]))
    assert _succeeded(dag_run)

    folder = kcm_home / _only_request(warehouse)["export_path"]
    wavs = sorted((folder / "recordings").iterdir())
    assert len(wavs) == 1
    assert wavs[0].read_bytes() == recordings_store.path_of(person.recordings[0]).read_bytes()
    assert set(json.loads((folder / "subject.json").read_text())["controllers"]) == {"acme"}
    assert (folder / "README.txt").read_text().count("30 days") == 1


# --- rectification --------------------------------------------------------------------------------


def test_rectification_corrects_every_matching_record_and_the_trail_names_fields_only(world, warehouse, run_dag):
    person = world.person
    conf = _conf("rectification", client="acme", respondent_ref=person.ref.lower(),
                 new_values={"phone": "06 9876 5432", "city": "Zwolle", "answer_text": "Gecorrigeerd antwoord."})  # fmt: skip
    assert _succeeded(run_dag(DAG_ID, RUN_DAY, conf=conf))

    with warehouse.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT r.phone, r.city, s.answer_text, r.email FROM respondents r "
            "JOIN responses s ON s.respondent_id = r.id WHERE r.respondent_ref = :ref"), {"ref": person.ref}).all()  # fmt: skip
        beta = conn.execute(sa.text("SELECT phone FROM respondents WHERE respondent_ref = :r"),
                            {"r": person.beta_ref}).scalar_one()  # fmt: skip
    assert [tuple(r[:3]) for r in rows] == [("+31698765432", "Zwolle", "Gecorrigeerd antwoord.")] * 2
    assert beta == person.phone, "another client's record is not this request's"
    [event] = _events(warehouse, "subject_rectified")
    counts = json.loads(event["counts"])
    assert counts["fields"] == ["answer_text", "city", "phone"]
    assert counts["rows"] == {"respondents": 2, "responses": 2}
    trail = json.dumps(_events(warehouse), default=str)
    assert "Zwolle" not in trail and "98765432" not in trail and person.ref not in trail


# --- erasure and objection --------------------------------------------------------------------------


def test_erasure_in_all_clients_leaves_no_trace_of_the_person(world, warehouse, run_dag, kcm_home):
    person = world.person
    # An earlier answer to this person, and one to someone else, wait in exports.
    assert _succeeded(run_dag(DAG_ID, "2026-11-19T08:00:00+00:00", conf=_conf("access", email=person.email)))
    assert _succeeded(run_dag(DAG_ID, "2026-11-19T09:00:00+00:00", conf=_conf("access", email=world.other_email)))
    exports_before = {r["request_id"] for r in _all_requests(warehouse)}

    dag_run = run_dag(DAG_ID, RUN_DAY, conf=_conf("erasure", email=person.email, phone=person.phone_delivered))
    assert _succeeded(dag_run)

    assert warehouse_hits(warehouse, person.planted) == {}
    assert file_hits(kcm_home, person.planted) == []
    for stored in person.recordings:
        assert not recordings_store.path_of(stored).exists()
    # Rejected-row files keep everyone else; the whole file and the person's WAV are gone.
    with world.quarantine["rows"].open(encoding="utf-8") as handle:
        assert len(list(csv.reader(handle))) == 3  # header and the two rows of someone else
    assert not world.quarantine["whole"].exists() and not world.quarantine["person_wav"].exists()
    assert world.quarantine["other_wav"].exists() and world.quarantine["record20_wav"].exists()
    # The other person's export is still there; the person's own earlier one is not.
    remaining = {p.name for p in (kcm_home / "exports").iterdir()}
    assert len(remaining) == 1 and remaining < set(exports_before)
    with warehouse.connect() as conn:
        kept = conn.execute(sa.text("SELECT COUNT(*) FROM respondents")).scalar()
        recordings = conn.execute(sa.text("SELECT COUNT(*) FROM recordings")).scalar()
        mention = conn.execute(
            sa.text("SELECT answer_text FROM responses WHERE answer_text LIKE '%buurvrouw%'")
        ).scalar()
        purged = conn.execute(sa.text("SELECT COUNT(*) FROM quarantine_records WHERE purged_on IS NOT NULL")).scalar()
        erased = conn.execute(sa.text("SELECT identifier_kind FROM erased_subjects ORDER BY 1")).scalars().all()
    assert kept == 24 and recordings == 1  # everyone else, and the bystander's recording
    assert "[verwijderd]" in mention
    assert purged == 2  # the whole file and the person's WAV
    assert erased == ["email", "phone"]
    for client_id in ("acme", "beta"):
        assert subject_requests.erased_still_present(warehouse, client_id) == {
            "erased_present": 0,
            "suppressed_present": 0,
        }
    outcome = json.loads(_all_requests(warehouse)[-1]["outcome"])
    assert outcome["clients_matched"] == 2 and outcome["people"] == 2 and outcome["respondents"] == 3
    assert audit.verify(warehouse).ok


def _all_requests(eng) -> list[dict]:
    with eng.connect() as conn:
        return [
            dict(r) for r in conn.execute(sa.text("SELECT * FROM subject_requests ORDER BY recorded_at")).mappings()
        ]


def test_objection_erases_and_lists_the_person_by_keyed_hash_only(world, warehouse, run_dag, kcm_home):
    person = world.person
    dag_run = run_dag(DAG_ID, RUN_DAY, conf=_conf("objection", client="acme", customer_number=person.customer_number,
                                                  email=person.email))  # fmt: skip
    assert _succeeded(dag_run)

    with warehouse.connect() as conn:
        listed = conn.execute(sa.text("SELECT client_scope, identifier_kind, identifier_hmac FROM suppression_list "
                                      "ORDER BY identifier_kind")).all()  # fmt: skip
        beta_left = conn.execute(sa.text("SELECT COUNT(*) FROM respondents WHERE respondent_ref = :r"),
                                 {"r": person.beta_ref}).scalar()  # fmt: skip
        acme_left = conn.execute(sa.text("SELECT COUNT(*) FROM respondents WHERE client_id = 'acme' AND "
                                         "(email = :e OR customer_number = :c)"),
                                 {"e": person.email, "c": person.customer_number}).scalar()  # fmt: skip
    assert [(r.client_scope, r.identifier_kind) for r in listed] == [("acme", "customer_number"), ("acme", "email")]
    assert all(len(r.identifier_hmac) == 64 for r in listed)
    assert acme_left == 0
    assert warehouse_hits(warehouse, [person.ref]) == {}
    assert file_hits(kcm_home / "quarantine", [person.email]) == []
    assert beta_left == 1, "an objection to acme leaves beta's record alone"
    assert any(e["rule"] == "R7" and e["action"] == "suppression_listed" for e in _events(warehouse))
    assert subject_requests.erased_still_present(warehouse, "acme")["suppressed_present"] == 0


def test_request_that_matches_nobody_completes_with_that_answer(world, warehouse, run_dag):
    dag_run = run_dag(DAG_ID, RUN_DAY, conf=_conf("erasure", email="niemand.bekend@example.nl"))
    assert _succeeded(dag_run)

    request = _only_request(warehouse)
    assert request["status"] == "done"
    assert json.loads(request["outcome"])["matched"] is False
    [event] = _events(warehouse, "request_no_match")
    assert json.loads(event["counts"])["people"] == 0
    with warehouse.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM respondents")).scalar() == 27


# --- trigger-time validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"client": "onbekend", "email": "jan@example.nl"}, "client: not a known client"),
        ({}, "give at least one of email, phone, respondent_ref, customer_number"),
        ({"email": "jan@@example"}, "email: not an e-mail address"),
        ({"phone": "12"}, "phone: not a phone number"),
        ({"respondent_ref": "R0000001"}, "respondent_ref: a client's key identifies a person only within that client"),
        ({"email": "jan@example.nl", "received_on": "18-11-2026"}, "received_on: give the day"),
        ({"email": "jan@example.nl", "received_on": "2026-12-01"}, "received_on: after the day"),
        (
            {"email": "jan@example.nl", "request_type": "rectification", "new_values": {"respondent_ref": "X"}},
            "new_values: 'respondent_ref' cannot be rectified",
        ),
        (
            {"email": "jan@example.nl", "request_type": "rectification", "new_values": {"birth_date": "1890-01-01"}},
            "new_values.birth_date: outside 1900-01-01",
        ),
        ({"email": "jan@example.nl", "request_type": "rectification"}, "new_values: give the fields to correct"),
        ({"email": "jan@example.nl", "new_values": {"city": "Ede"}}, "new_values: only a rectification request"),
        ({"email": "jan@example.nl", "emial": "x"}, "'emial': not a field of a subject request"),
        ({"email": "jan@example.nl", "request_type": "forget"}, "request_type: unknown"),
    ],
)
def test_bad_input_is_refused_with_a_message_that_names_the_field(fields, message, clients_dir):
    write_client(clients_dir, "acme")
    conf = {"client": "all", "request_type": "erasure", "received_on": "2026-11-18", **fields}
    with pytest.raises(subject_requests.RequestError) as refused:
        subject_requests.parse(conf, as_of=AS_OF, clients=[get_client("acme")])
    assert message in str(refused.value)
    assert "nothing was changed" in str(refused.value)
    for value in ("jan@example.nl", "jan@@example", "R0000001", "1890-01-01"):
        assert value not in str(refused.value), "errors never echo a value"


def test_missing_suppression_secret_is_refused_at_trigger_time(clients_dir, monkeypatch):
    monkeypatch.delenv("KCM_SUPPRESSION_SECRET")
    write_client(clients_dir, "acme")
    with pytest.raises(subject_requests.RequestError, match="KCM_SUPPRESSION_SECRET"):
        subject_requests.parse(_conf("access", email="jan@example.nl"), as_of=AS_OF, clients=[get_client("acme")])


def test_refused_request_fails_the_run_in_its_first_task_and_changes_nothing(world, warehouse, run_dag):
    before = warehouse_hits(warehouse, [world.person.email])
    trail = len(_events(warehouse))
    conf = _conf("rectification", client="acme", email=world.person.email, new_values={"respondent_ref": "X1"})
    dag_run = run_dag(DAG_ID, RUN_DAY, conf=conf)

    assert not _succeeded(dag_run)
    states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}
    assert states["validate_request"] == "failed"
    assert states["record_request"] != "success" and states["carry_out_request"] != "success"
    assert _all_requests(warehouse) == [] and len(_events(warehouse)) == trail
    assert warehouse_hits(warehouse, [world.person.email]) == before


def test_trigger_form_refuses_an_unknown_request_type_before_the_run(world, run_dag):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        run_dag(DAG_ID, RUN_DAY, conf=_conf("forget", email=world.person.email))


# --- R6 due dates -----------------------------------------------------------------------------------------


def test_due_check_fails_on_an_overdue_request_and_passes_once_it_is_answered(world, warehouse, run_dag, kcm_home):
    clients = [get_client("acme"), get_client("beta")]
    request = subject_requests.parse(_conf("access", email=world.person.email, received_on="2026-10-15"),
                                     as_of=AS_OF, clients=clients)  # fmt: skip
    request_id = subject_requests.record(warehouse, request, run_id="manual__late", as_of=AS_OF)
    assert subject_requests.open_requests(warehouse)[0]["due_on"] == dt.date(2026, 11, 15)

    overdue = run_dag("kcm_subject_request_due", RUN_DAY)
    assert not _succeeded(overdue)
    report = (kcm_home / "reports" / "subject_requests_open.csv").read_text()
    assert request_id in report and "2026-11-15" in report
    with pytest.raises(subject_requests.RequestsOverdue, match=request_id):
        subject_requests.check_due(warehouse, as_of=AS_OF)

    subject_requests.carry_out(warehouse, request, request_id, run_id="manual__late", as_of=AS_OF, clients=clients)
    assert _succeeded(run_dag("kcm_subject_request_due", "2026-11-21T06:00:00+00:00"))
    assert subject_requests.open_requests(warehouse) == []


def test_request_due_date_is_one_calendar_month_clamped_at_month_end(clients_dir):
    write_client(clients_dir, "acme")
    request = subject_requests.parse(
        _conf("access", email="jan@example.nl", received_on="2027-01-31"),
        as_of=dt.date(2027, 2, 1),
        clients=[get_client("acme")],
    )
    assert request.due_on == dt.date(2027, 2, 28)
    assert "jan@example.nl" not in repr(request)


def test_demo_answers_one_request_of_each_type_and_reports_counts_only(world, warehouse, clients_dir):
    clients = [get_client("acme"), get_client("beta")]
    answers = subject_requests.demo_requests(warehouse, clients, as_of=AS_OF)

    assert [a["status"] for a in answers] == ["done"] * 5
    assert [_request_type(warehouse, a["request_id"]) for a in answers] == list(subject_requests.REQUEST_TYPES)
    assert all(a["people"] >= 1 for a in answers)
    text = subject_requests.describe(answers) + json.dumps(answers)
    with warehouse.connect() as conn:
        people = conn.execute(sa.text("SELECT email, phone FROM respondents")).all()
    assert not any(value and value in text for row in people for value in row)
    assert world.person.email not in text


def _request_type(eng, request_id: str) -> str:
    with eng.connect() as conn:
        return conn.execute(
            sa.text("SELECT request_type FROM subject_requests WHERE request_id = :r"), {"r": request_id}
        ).scalar_one()


def test_erasure_retried_after_a_crash_finishes_and_still_reports_whom_it_was_about(world, warehouse, monkeypatch):
    clients = [get_client("acme"), get_client("beta")]
    request = subject_requests.parse(_conf("erasure", email=world.person.email), as_of=AS_OF, clients=clients)
    request_id = subject_requests.record(warehouse, request, run_id="manual__crash", as_of=AS_OF)

    def crash(*args, **kwargs):
        raise RuntimeError("worker lost")

    with monkeypatch.context() as patched:
        patched.setattr(subject_requests, "_complete", crash)
        with pytest.raises(RuntimeError):
            subject_requests.carry_out(warehouse, request, request_id, run_id="manual__crash", as_of=AS_OF,
                                       clients=clients)  # fmt: skip
    assert subject_requests.open_requests(warehouse)[0]["request_id"] == request_id

    answer = subject_requests.carry_out(warehouse, request, request_id, run_id="manual__crash", as_of=AS_OF,
                                        clients=clients)  # fmt: skip
    assert (answer["matched"], answer["people"], answer["respondents"]) == (True, 2, 3)
    assert warehouse_hits(warehouse, world.person.planted) == {}
    assert subject_requests.open_requests(warehouse) == []
