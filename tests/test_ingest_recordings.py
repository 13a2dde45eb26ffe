"""A client delivers call recordings with a manifest: good ones are stored and linked, bad ones
go to quarantine with a reason, nothing leaves the client's folder, nothing is dropped."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from faker import Faker

from include import audit, config, settings, suppression, sync
from include.ingest import recordings
from include.sample_data import write_manifest, write_wav
from include.terms import AMSTERDAM
from tests.factories import write_client

AS_OF = dt.date(2026, 5, 4)
CLIENT = "testclient"


@pytest.fixture
def fake() -> Faker:
    generator = Faker("nl_NL")
    generator.seed_instance(4)
    return generator


@pytest.fixture
def client(clients_dir, warehouse):
    """A client with a completed assignment a1 (term ends 2026-12-30) and a running a2, synced."""
    write_client(clients_dir, CLIENT)
    client = config.get_client(CLIENT)
    sync.apply_config(warehouse, client)
    return client


@pytest.fixture
def landing(kcm_home) -> Path:
    folder = settings.landing_dir(CLIENT)
    folder.mkdir(parents=True)
    return folder


def add_respondents(eng, assignment_id: str, refs: list[str]) -> dict[str, int]:
    """Respondents as the responses ingest leaves them; returns ref -> id."""
    invited = dt.datetime(2026, 4, 1, 9, 30, tzinfo=dt.UTC)
    with eng.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO respondents (client_id, assignment_id, respondent_ref, invited_at, invited_on, "
                "responded_at, loaded_at) VALUES (:c, :a, :r, :t, :d, :t, :t)"
            ),
            [{"c": CLIENT, "a": assignment_id, "r": ref, "t": invited, "d": invited.date()} for ref in refs],
        )
        rows = conn.execute(
            sa.text("SELECT respondent_ref, id FROM respondents WHERE client_id = :c AND assignment_id = :a"),
            {"c": CLIENT, "a": assignment_id},
        )
        return dict(rows.all())


def wav_name(fake: Faker) -> str:
    """Names as call systems write them: the caller's name in the file name."""
    return f"gesprek {fake.first_name()} {fake.last_name()} {fake.random_int(1000, 9999)}.wav"


def entry(
    file_name: str, sha256: str, ref: str, assignment_id: str = "a1", recorded_at: str = "2026-04-02T10:15:00+02:00"
) -> dict:
    return {
        "file_name": file_name,
        "assignment_id": assignment_id,
        "respondent_ref": ref,
        "recorded_at": recorded_at,
        "sha256": sha256,
    }


def stored_recordings(eng) -> list[dict]:
    with eng.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM recordings ORDER BY id")).mappings().all()
    return [dict(row) for row in rows]


def quarantine_texts() -> str:
    """What an operator reads in the quarantine folder: the reason files."""
    folder = settings.quarantine_dir(CLIENT)
    return "\n".join(p.read_text(encoding="utf-8") for p in folder.glob("*.reason.json"))


def test_manifest_with_good_and_bad_rows_stores_the_good_and_quarantines_the_rest(
    warehouse, client, landing, tmp_path, fake, caplog
):
    refs = add_respondents(warehouse, "a1", ["R0000001", "R0000002", "R0000003"])
    good = {}
    for seed, ref in enumerate(refs, start=1):
        name = wav_name(fake)
        good[name] = (ref, write_wav(landing / name, seconds=0.25 * seed, seed=seed))
    tampered = wav_name(fake)
    write_wav(landing / tampered, seconds=0.2, seed=20)
    stranger = wav_name(fake)
    stranger_sha = write_wav(landing / stranger, seconds=0.2, seed=21)
    outside = tmp_path / "elders" / "geheim.wav"
    outside_sha = write_wav(outside, seconds=0.2, seed=22)
    (landing / "koppeling.wav").symlink_to(outside)
    waiting = wav_name(fake)
    write_wav(landing / waiting, seconds=0.2, seed=23)  # no manifest names it (yet)
    entries = [
        *(entry(name, sha, ref) for name, (ref, sha) in good.items()),
        entry(tampered, "ab" * 32, "R0000001"),
        entry("../../etc/passwd", "cd" * 32, "R0000002"),
        entry(str(outside), outside_sha, "R0000002"),
        entry("koppeling.wav", outside_sha, "R0000003"),
        entry(wav_name(fake), "ef" * 32, "R0000003"),
        entry(stranger, stranger_sha, "R9999999"),
    ]
    write_manifest(landing / "recordings_2026_05.csv", entries)
    passwd_before = Path("/etc/passwd").read_bytes()

    with caplog.at_level(logging.DEBUG):
        result = recordings.ingest_manifest(warehouse, client, "recordings_2026_05.csv", run_id="r1", as_of=AS_OF)

    assert result["status"] == "partially_loaded"
    assert result["rows_total"] == 9 == result["rows_loaded"] + result["rows_quarantined"]
    assert result["rows_loaded"] == 3
    assert result["reasons"] == {"sha256_mismatch": 1, "unsafe_path": 3, "missing_file": 1, "unknown_respondent": 1}

    # Good rows: stored under a content address, linked to their respondent, measured.
    stored = stored_recordings(warehouse)
    assert [(r["respondent_id"], r["sha256"]) for r in stored] == [(refs[ref], sha) for ref, sha in good.values()]
    for row, seconds in zip(stored, (0.25, 0.5, 0.75), strict=True):
        path = settings.kcm_home() / "recordings" / row["stored_path"]
        assert row["stored_path"] == f"{CLIENT}/a1/{row['sha256']}.wav"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
        assert row["duration_seconds"] == pytest.approx(seconds)
        assert (row["sample_rate"], row["channels"], row["sample_width"], row["state"]) == (8000, 1, 2, "stored")
        assert row["delivery_id"] == result["delivery_id"]

    # Bad rows: the rows in a rejected CSV, the WAVs that were delivered in quarantine.
    quarantined = settings.quarantine_dir(CLIENT)
    rejected = next(quarantined.glob("*-recordings_2026_05.rejected.csv")).read_text(encoding="utf-8")
    assert rejected.count("\n") == 1 + 6
    assert "sha256:sha256_mismatch" in rejected and "respondent_ref:unknown_respondent" in rejected
    moved = sorted(p.name for p in quarantined.glob("*.wav"))
    assert len(moved) == 2 and all(".record" in name for name in moved)
    reasons = {json.loads(p.read_text())["reason_code"] for p in quarantined.glob("*.wav.reason.json")}
    assert reasons == {"sha256_mismatch", "unknown_respondent"}

    # Nothing outside the client's folder was touched; landing keeps only what waits for a manifest.
    assert hashlib.sha256(outside.read_bytes()).hexdigest() == outside_sha
    assert Path("/etc/passwd").read_bytes() == passwd_before
    assert sorted(p.name for p in landing.iterdir()) == sorted(["koppeling.wav", waiting])
    swept = recordings.sweep_landing(warehouse, client, run_id="r1", as_of=amsterdam_today())
    assert (swept["links_removed"], swept["wavs_waiting"]) == (1, 1)
    assert [p.name for p in landing.iterdir()] == [waiting]

    # Names of people (in WAV names) and their refs appear in no log line, result, reason or record.
    personal = [*good, tampered, stranger, waiting, *(ref for ref, _ in good.values()), "R9999999"]
    with warehouse.connect() as conn:
        records = json.dumps([list(r) for r in conn.execute(sa.text("SELECT * FROM quarantine_records"))], default=str)
        deliveries = json.dumps([list(r) for r in conn.execute(sa.text("SELECT * FROM deliveries"))], default=str)
        events = json.dumps([list(r) for r in conn.execute(sa.text("SELECT * FROM audit_events"))], default=str)
    operator_view = "\n".join([caplog.text, json.dumps(result), quarantine_texts(), records, deliveries, events])
    assert not [value for value in personal if value in operator_view]
    assert "recordings_2026_05.csv" in caplog.text


def test_failed_load_leaves_landing_and_store_as_they_were_and_the_next_run_loads(
    warehouse, client, landing, fake, monkeypatch
):
    add_respondents(warehouse, "a2", ["R0000001"])
    name = wav_name(fake)
    sha = write_wav(landing / name, seconds=0.2, seed=1)
    write_manifest(landing / "recordings_1.csv", [entry(name, sha, "R0000001", "a2")])

    def broken_trail(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT INTO audit_events", {"file_name": name}, Exception("disk I/O error"))

    with monkeypatch.context() as patch, pytest.raises(recordings.RecordingsError) as failure:
        patch.setattr(audit, "append", broken_trail)
        recordings.ingest_manifest(warehouse, client, "recordings_1.csv", run_id="r1", as_of=AS_OF)
    assert name not in str(failure.value) and "recordings_1.csv" in str(failure.value)
    assert stored_recordings(warehouse) == []
    assert sorted(p.name for p in landing.iterdir()) == sorted([name, "recordings_1.csv"])
    store = settings.kcm_home() / "recordings"
    assert not [p for p in store.rglob("*") if p.is_file()]

    result = recordings.ingest_manifest(warehouse, client, "recordings_1.csv", run_id="r2", as_of=AS_OF)

    assert result["status"] == "loaded" and len(stored_recordings(warehouse)) == 1
    assert list(landing.iterdir()) == []


def test_same_manifest_delivered_twice_loads_once(warehouse, client, landing, fake):
    add_respondents(warehouse, "a1", ["R0000001", "R0000002"])
    files = {wav_name(fake): ref for ref in ("R0000001", "R0000002")}
    entries = [
        entry(name, write_wav(landing / name, seconds=0.2, seed=i), ref) for i, (name, ref) in enumerate(files.items())
    ]
    write_manifest(landing / "recordings_week18.csv", entries)
    delivery = {p.name: p.read_bytes() for p in landing.iterdir()}
    first = recordings.ingest_manifest(warehouse, client, "recordings_week18.csv", run_id="r1", as_of=AS_OF)

    for name, content in delivery.items():  # the client sends the same delivery again, as recordings_herzonden.csv
        (landing / name.replace("week18", "herzonden")).write_bytes(content)
    again = recordings.ingest_manifest(warehouse, client, "recordings_herzonden.csv", run_id="r2", as_of=AS_OF)

    assert first["status"] == "loaded" and first["rows_loaded"] == 2
    assert again["status"] == "duplicate" and again["delivery_id"] == first["delivery_id"]
    assert again["rows_loaded"] == 0
    assert len(stored_recordings(warehouse)) == 2
    assert list(landing.iterdir()) == []
    with warehouse.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM deliveries")).scalar() == 1
        actions = conn.execute(sa.text("SELECT action FROM audit_events ORDER BY seq")).scalars().all()
    assert actions == ["recordings_loaded", "recordings_duplicate"]
    assert audit.verify(warehouse).ok


def test_manifest_naming_other_delivery_files_never_touches_them(warehouse, client, landing, fake):
    add_respondents(warehouse, "a1", ["R0000001"])
    responses = landing / "responses_2026_05.csv"
    responses.write_text(f"assignment_id,respondent_ref\na1,{fake.name()}\n", encoding="utf-8")
    untouched = responses.read_bytes()
    digest = hashlib.sha256(untouched).hexdigest()
    write_manifest(
        landing / "recordings_vreemd.csv",
        [entry("responses_2026_05.csv", digest, "R0000001"), entry("recordings_vreemd.csv", digest, "R0000001")],
    )

    result = recordings.ingest_manifest(warehouse, client, "recordings_vreemd.csv", run_id="r1", as_of=AS_OF)

    assert (result["status"], result["reasons"]) == ("quarantined", {"unsafe_path": 2})
    assert responses.read_bytes() == untouched
    assert [p.name for p in landing.iterdir()] == ["responses_2026_05.csv"]


def test_recording_already_stored_or_named_twice_is_quarantined_as_duplicate(warehouse, client, landing, fake):
    add_respondents(warehouse, "a1", ["R0000001", "R0000002"])
    first, copy = wav_name(fake), wav_name(fake)
    sha = write_wav(landing / first, seconds=0.2, seed=1)
    write_manifest(landing / "recordings_a.csv", [entry(first, sha, "R0000001")])
    recordings.ingest_manifest(warehouse, client, "recordings_a.csv", run_id="r1", as_of=AS_OF)

    write_wav(landing / copy, seconds=0.2, seed=1)  # the same call under another name
    other = wav_name(fake)
    other_sha = write_wav(landing / other, seconds=0.2, seed=2)
    write_manifest(
        landing / "recordings_b.csv",
        [entry(copy, sha, "R0000002"), entry(other, other_sha, "R0000002"), entry(other, other_sha, "R0000001")],
    )
    result = recordings.ingest_manifest(warehouse, client, "recordings_b.csv", run_id="r2", as_of=AS_OF)

    assert (result["rows_loaded"], result["rows_quarantined"]) == (1, 2)
    assert result["reasons"] == {"duplicate_recording": 2}
    assert len(stored_recordings(warehouse)) == 2
    assert list(landing.iterdir()) == []


def test_rows_for_assignments_past_term_destroyed_or_unknown_are_refused(clients_dir, warehouse, landing, fake):
    write_client(
        clients_dir,
        CLIENT,
        assignments=[
            {"id": "oud", "title": "Afgerond 2025", "completed_on": "2025-09-30", "destruction_requested_on": None},
            {"id": "weg", "title": "Vernietigd", "completed_on": None, "destruction_requested_on": "2026-05-01"},
            {"id": "nu", "title": "Lopend", "completed_on": None, "destruction_requested_on": None},
        ],
    )
    client = config.get_client(CLIENT)
    sync.apply_config(warehouse, client)
    for assignment_id in ("oud", "weg", "nu"):
        add_respondents(warehouse, assignment_id, ["R0000001"])
    rows = []
    for seed, (assignment_id, recorded_at) in enumerate(
        [("oud", "2025-09-01T12:00:00"), ("weg", "2026-04-01T12:00:00"), ("elders", "2026-04-01T12:00:00"),
         ("nu", "gisteren"), ("nu", "2026-04-01 12:00")]
    ):  # fmt: skip
        name = wav_name(fake)
        rows.append(
            entry(name, write_wav(landing / name, seconds=0.2, seed=seed), "R0000001", assignment_id, recorded_at)
        )
    rows.append({**rows[-1], "sha256": "niet-een-hash"})
    write_manifest(landing / "recordings_mix.csv", rows, delimiter=";")

    result = recordings.ingest_manifest(warehouse, client, "recordings_mix.csv", run_id="r1", as_of=AS_OF)

    assert result["reasons"] == {
        "assignment_past_term": 1,
        "assignment_destroyed": 1,
        "unknown_assignment": 1,
        "invalid_timestamp": 1,
        "bad_sha256": 1,
        "duplicate_recording": 1,
    }
    [stored] = stored_recordings(warehouse)
    assert stored["assignment_id"] == "nu"
    # R2/R4: the calls of the assignment past term and the destroyed one are kept nowhere, not even in
    # quarantine; the others wait there for the client to mend them.
    kept_wavs = list(settings.quarantine_dir(CLIENT).glob("*.wav"))
    assert len(kept_wavs) == 2  # the unknown assignment's and the bad timestamp's
    with next(settings.quarantine_dir(CLIENT).glob("*.rejected.csv")).open(encoding="utf-8") as handle:
        refused = {r["assignment_id"]: r for r in csv.DictReader(handle) if "past_term" in r["_reasons"]
                   or "destroyed" in r["_reasons"]}  # fmt: skip
    assert set(refused) == {"oud", "weg"}
    assert all(not r["file_name"] and not r["respondent_ref"] and not r["sha256"] for r in refused.values())
    assert list(landing.iterdir()) == []
    recorded_at = stored["recorded_at"]
    if isinstance(recorded_at, str):  # SQLite hands back the text it stored
        recorded_at = dt.datetime.fromisoformat(recorded_at)
    assert recorded_at == dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC)  # no offset: Amsterdam summer time


def test_recording_of_a_person_who_objected_is_dropped_not_stored_nor_quarantined(
    warehouse, client, landing, fake, monkeypatch
):
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", "a-test-secret-for-the-list-of-objectors!!")
    refs = add_respondents(warehouse, "a1", ["R0000001"])  # R0000002 objected: their respondents row is erased
    with warehouse.begin() as conn:
        hashes = suppression.hashes_of({"respondent_ref": suppression.normalise("respondent_ref", "R0000002")})
        suppression.add(conn, client_scope=CLIENT, hashes=hashes, request_id="sr-1", added_on=AS_OF)
    kept, objector = wav_name(fake), wav_name(fake)
    kept_sha = write_wav(landing / kept, seconds=0.2, seed=1)
    objector_sha = write_wav(landing / objector, seconds=0.3, seed=2)
    objector_bytes = (landing / objector).read_bytes()
    write_manifest(
        landing / "recordings_week19.csv",
        [entry(kept, kept_sha, "R0000001"), entry(objector, objector_sha, "r000 0002")],  # as the client writes it
    )

    result = recordings.ingest_manifest(warehouse, client, "recordings_week19.csv", run_id="r1", as_of=AS_OF)

    assert (result["status"], result["rows_total"], result["rows_loaded"]) == ("loaded", 2, 1)
    assert (result["rows_quarantined"], result["rows_suppressed"], result["reasons"]) == (0, 1, {})
    assert [(r["respondent_id"], r["sha256"]) for r in stored_recordings(warehouse)] == [(refs["R0000001"], kept_sha)]
    held = [p for p in (settings.kcm_home() / "quarantine").rglob("*") if p.is_file()]
    assert not [p for p in held if p.read_bytes() == objector_bytes]
    assert list(landing.iterdir()) == []
    with warehouse.connect() as conn:
        delivery = conn.execute(sa.text("SELECT rows_loaded, rows_quarantined, rows_suppressed FROM deliveries")).one()
        assert conn.execute(sa.text("SELECT count(*) FROM quarantine_records")).scalar() == 0
        events = conn.execute(sa.text("SELECT counts FROM audit_events WHERE action = 'recordings_loaded'")).scalars()
        [counts] = [json.loads(c) if isinstance(c, str) else c for c in events]
    assert tuple(delivery) == (1, 0, 1)
    assert counts["rows_suppressed"] == 1
    assert objector not in json.dumps(counts) and "0002" not in json.dumps(counts)


HEADER = b"file_name,assignment_id,respondent_ref,recorded_at,sha256\n"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (HEADER + "Zoë Müller.wav,a1,R1,2026-04-01,ab\n".encode("latin-1"), "encoding"),
        (b"file_name;assignment_id;respondent_ref\nx.wav;a1;R0000001\n", "missing_columns"),
        (HEADER, "empty"),
        (b"", "empty"),
        (HEADER + b'"x.wav,a1,R1,2026-04-01,ab\n', "not_csv"),
        (b"x.wav,a1,R0000001,2026-04-01T10:00:00,ab\n", "no_header"),
        (
            b"file_name,assignment_id,respondent_ref,recorded_at,sha256,sha256\nx.wav,a1,R1,2026-04-01,ab,ab\n",
            "duplicate_columns",
        ),
    ],
    ids=["latin1", "missing_columns", "header_only", "empty", "broken_quotes", "no_header", "repeated_column"],
)
def test_unreadable_manifest_goes_to_quarantine_and_its_recordings_wait(
    warehouse, client, landing, fake, content, reason
):
    name = wav_name(fake)
    write_wav(landing / name, seconds=0.2)
    (landing / "recordings_kapot.csv").write_bytes(content)

    result = recordings.ingest_manifest(warehouse, client, "recordings_kapot.csv", run_id="r1", as_of=AS_OF)

    assert (result["status"], result["reasons"]) == ("quarantined", {reason: 1})
    assert [p.name for p in landing.iterdir()] == [name]
    reason_file = next(settings.quarantine_dir(CLIENT).glob("*-recordings_kapot.csv.reason.json"))
    assert json.loads(reason_file.read_text())["reason_code"] == reason


def test_manifest_from_dutch_excel_with_bom_semicolons_and_an_extra_column_loads(warehouse, client, landing, fake):
    add_respondents(warehouse, "a1", ["R0000001"])
    name = wav_name(fake)
    sha = write_wav(landing / name, seconds=0.2)
    text = (
        "Bestandsnaam opmerking;File_Name;assignment_id;respondent_ref;recorded_at;sha256\r\n"
        f"{fake.sentence()};{name};a1;R0000001;2026-04-02T09:00:00Z;{sha.upper()};;\r\n"
    )
    (landing / "recordings_excel.csv").write_bytes(text.encode("utf-8-sig"))

    result = recordings.ingest_manifest(warehouse, client, "recordings_excel.csv", run_id="r1", as_of=AS_OF)

    assert (result["status"], result["rows_loaded"]) == ("loaded", 1)
    [stored] = stored_recordings(warehouse)
    assert stored["file_name"] == name and stored["sha256"] == sha


def test_sweep_quarantines_unknown_files_at_once_and_wavs_without_manifest_after_seven_days(
    warehouse, client, landing, tmp_path, fake
):
    today = amsterdam_today()
    orphan, later, backdated = wav_name(fake), wav_name(fake), wav_name(fake)
    for seed, name in enumerate((orphan, later, backdated)):
        write_wav(landing / name, seconds=0.2, seed=seed)
    in_three_days = (dt.datetime.now() + dt.timedelta(days=3)).timestamp()
    os.utime(landing / later, (in_three_days, in_three_days))  # arrives three days after the others
    two_months_ago = (dt.datetime.now() - dt.timedelta(days=60)).timestamp()
    os.utime(landing / backdated, (two_months_ago, two_months_ago))  # upload kept the call's own date
    (landing / f"klantenlijst {fake.last_name()}.xlsx").write_bytes(b"PK\x03\x04 not really a spreadsheet")
    (landing / "submap").mkdir()
    (landing / "submap" / "notities.txt").write_text(fake.name(), encoding="utf-8")
    (landing / "submap" / "omweg").symlink_to("/etc")
    secret = tmp_path / "buiten.txt"
    secret.write_text("buiten de landing", encoding="utf-8")
    (landing / "verwijzing.csv").symlink_to(secret)
    (landing / "responses_later.csv").write_text("assignment_id\n", encoding="utf-8")  # not the sweep's business

    first = recordings.sweep_landing(warehouse, client, run_id="r1", as_of=today + dt.timedelta(days=7))
    second = recordings.sweep_landing(warehouse, client, run_id="r2", as_of=today + dt.timedelta(days=8))
    third = recordings.sweep_landing(warehouse, client, run_id="r3", as_of=today + dt.timedelta(days=11))

    assert first == {"wavs_waiting": 3, "wavs_quarantined": 0, "unknown_quarantined": 2, "links_removed": 2}
    assert second == {"wavs_waiting": 1, "wavs_quarantined": 2, "unknown_quarantined": 0, "links_removed": 0}
    assert third == {"wavs_waiting": 0, "wavs_quarantined": 1, "unknown_quarantined": 0, "links_removed": 0}
    assert [p.name for p in landing.iterdir()] == ["responses_later.csv"]
    assert secret.read_text(encoding="utf-8") == "buiten de landing"
    quarantined = settings.quarantine_dir(CLIENT)
    codes = sorted(json.loads(p.read_text())["reason_code"] for p in quarantined.glob("*.reason.json"))
    assert codes == ["no_manifest"] * 3 + ["unknown_file_kind"] * 2
    assert not [p for p in quarantined.rglob("*") if p.is_symlink()]
    names = "\n".join([quarantine_texts(), *(p.name for p in quarantined.iterdir())])
    assert orphan not in names and "klantenlijst" not in names
    with warehouse.connect() as conn:
        swept = conn.execute(sa.text("SELECT count(*) FROM audit_events WHERE action = 'landing_swept'")).scalar()
    assert swept == 3


def amsterdam_today() -> dt.date:
    """The calendar day in Europe/Amsterdam, as landing files are aged (not the machine's UTC day)."""
    return dt.datetime.now(AMSTERDAM).date()
