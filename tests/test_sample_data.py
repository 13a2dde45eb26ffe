"""The sample-data generator writes deliveries that keep (and deliberately break) the delivery contract."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import wave
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest
from email_validator import validate_email

from include import config, sample_data
from include.sample_data import RESPONSE_COLUMNS, UNKNOWN_ASSIGNMENT
from tests.factories import write_client

AS_OF = dt.date(2026, 11, 20)
MIDNIGHT = dt.datetime.combine(AS_OF, dt.time(), sample_data.AMSTERDAM)
POSTCODE = re.compile(r"^[1-9][0-9]{3} (?!SA|SD|SS)[A-Z]{2}$")


def _moment(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=sample_data.AMSTERDAM)


def _read_csv(path: Path, *, delimiter: str = ",", encoding: str = "utf-8") -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def people() -> list[dict[str, str]]:
    return sample_data.fake_respondents(400, assignment_ids=["ktv_2026_q2", "ktv_2026_q4"], seed=7, as_of=AS_OF)


def test_every_invitee_has_all_contract_columns_as_strings(people):
    assert all(list(person) == list(RESPONSE_COLUMNS) for person in people)
    assert all(isinstance(value, str) for person in people for value in person.values())
    refs = Counter((p["assignment_id"], p["respondent_ref"]) for p in people)
    assert max(refs.values()) == 1
    assert {p["assignment_id"] for p in people} == {"ktv_2026_q2", "ktv_2026_q4"}


def test_invitations_fall_in_the_three_months_before_as_of_and_responses_follow_them(people):
    for person in people:
        invited = _moment(person["invited_at"])
        assert MIDNIGHT - dt.timedelta(days=93) <= invited < MIDNIGHT
        if person["responded_at"]:
            assert invited < _moment(person["responded_at"]) < MIDNIGHT
    offsets = Counter("+" in p["invited_at"][10:] for p in people)
    assert offsets[True] > 50 and offsets[False] > 50, "both timestamps with and without offset are delivered"


def test_non_respondents_have_no_answers_and_respondents_score_in_range(people):
    non_respondents = [p for p in people if not p["responded_at"]]
    respondents = [p for p in people if p["responded_at"]]
    assert 0.2 < len(non_respondents) / len(people) < 0.4  # response_rate 0.7
    assert all(p["nps"] == p["csat"] == p["answer_text"] == "" for p in non_respondents)
    assert {int(p["nps"]) for p in respondents} <= set(range(11))
    assert {int(p["csat"]) for p in respondents} <= set(range(1, 6))


def test_personal_details_look_dutch_and_valid(people):
    for person in people:
        assert POSTCODE.match(person["postcode"]), "valid NL postcode, never SA/SD/SS"
        assert phonenumbers.is_valid_number(phonenumbers.parse(person["phone"], "NL"))
        validate_email(person["email"], check_deliverability=False)
        age = (AS_OF - dt.date.fromisoformat(person["birth_date"])).days / 365.25
        assert 18 <= age <= 90
        assert person["gender"] in ("man", "vrouw", "anders")
    formats = Counter(
        "+31" if p["phone"].startswith("+31") else "06" if p["phone"].startswith("06-") else "vast" for p in people
    )
    assert set(formats) == {"+31", "06", "vast"}


def test_some_open_answers_are_awkward_for_csv_and_name_the_person(people):
    answers = [p for p in people if p["answer_text"]]
    assert any("\n" in p["answer_text"] for p in answers)
    assert any("," in p["answer_text"] and ";" in p["answer_text"] for p in answers)
    mentions = [
        p for p in answers
        if p["phone"] in p["answer_text"] or p["email"] in p["answer_text"] or p["last_name"] in p["answer_text"]
    ]  # fmt: skip
    assert len(mentions) >= 10, "the anonymiser needs identifiers inside open text to scrub"


def test_same_seed_gives_the_same_people_and_another_seed_does_not():
    first = sample_data.fake_respondents(30, assignment_ids=["a1"], seed=3, as_of=AS_OF)
    again = sample_data.fake_respondents(30, assignment_ids=["a1"], seed=3, as_of=AS_OF)
    other = sample_data.fake_respondents(30, assignment_ids=["a1"], seed=4, as_of=AS_OF)
    assert first == again
    assert [p["email"] for p in first] != [p["email"] for p in other]


def test_dutch_excel_file_has_bom_semicolons_and_survives_a_round_trip(tmp_path, people):
    path = sample_data.write_responses_csv(tmp_path / "responses_excel.csv", people, delimiter=";", bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbfassignment_id;respondent_ref;invited_at;responded_at;")
    header, rows = _read_csv(path, delimiter=";", encoding="utf-8-sig")
    assert header == list(RESPONSE_COLUMNS)
    assert rows == people


def test_a_file_can_leave_out_columns(tmp_path, people):
    path = sample_data.write_responses_csv(tmp_path / "responses.csv", people[:3], columns=["assignment_id", "nps"])
    assert path.read_text(encoding="utf-8").splitlines()[0] == "assignment_id,nps"


def test_wav_is_real_pcm_with_the_requested_duration(tmp_path):
    digest = sample_data.write_wav(tmp_path / "a.wav", seconds=1.5, sample_rate=16000, channels=2, seed=1)
    with wave.open(str(tmp_path / "a.wav"), "rb") as recording:
        assert (recording.getnchannels(), recording.getsampwidth(), recording.getframerate()) == (2, 2, 16000)
        assert recording.getnframes() / recording.getframerate() == pytest.approx(1.5)
        assert len(recording.readframes(recording.getnframes())) == 1.5 * 16000 * 2 * 2
    assert digest == hashlib.sha256((tmp_path / "a.wav").read_bytes()).hexdigest()
    assert sample_data.write_wav(tmp_path / "b.wav", seconds=1.5, sample_rate=16000, channels=2, seed=1) == digest
    assert sample_data.write_wav(tmp_path / "c.wav", seconds=1.5, sample_rate=16000, channels=2, seed=2) != digest


def test_manifest_has_the_contract_columns(tmp_path):
    entry = {"file_name": "x.wav", "assignment_id": "a1", "respondent_ref": "R1", "recorded_at": "2026-11-01T10:00:00",
             "sha256": "0" * 64}  # fmt: skip
    path = sample_data.write_manifest(tmp_path / "recordings.csv", [entry], delimiter=";")
    header, rows = _read_csv(path, delimiter=";")
    assert header == ["file_name", "assignment_id", "respondent_ref", "recorded_at", "sha256"]
    assert rows == [entry]


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    """One broken-on-purpose delivery for the project's own acme_energie client."""
    landing = tmp_path_factory.mktemp("landing") / "acme_energie"
    client = config.parse_client_file(config.settings.PROJECT_ROOT / "include" / "clients" / "acme_energie.yaml")
    counts = sample_data.generate_delivery(client, landing, as_of=AS_OF, seed=11, respondents=120, recordings=6)
    return landing, counts


def _responses(landing: Path, counts: dict) -> list[dict[str, str]]:
    rows = []
    for name in counts["responses_files"]:
        raw = (landing / name).read_bytes()
        delimiter = ";" if raw.startswith(b"\xef\xbb\xbf") else ","
        rows += _read_csv(landing / name, delimiter=delimiter, encoding="utf-8-sig")[1]
    return rows


def test_delivery_has_a_plain_file_and_a_dutch_excel_file_with_every_invitee(delivery):
    landing, counts = delivery
    heads = {name: (landing / name).read_bytes()[:40] for name in counts["responses_files"]}
    assert sorted(head.startswith(b"\xef\xbb\xbfassignment_id;") for head in heads.values()) == [False, True]
    assert any(head.startswith(b"assignment_id,respondent_ref,") for head in heads.values())
    rows = _responses(landing, counts)
    assert len(rows) == counts["rows"] == 120 + counts["planted_bad_rows"]["duplicate_respondent_ref"]


def test_delivery_plants_the_bad_rows_it_reports(delivery):
    landing, counts = delivery
    rows = _responses(landing, counts)
    assert counts["planted_bad_rows"] == {"bad_email": 1, "nps_out_of_range": 1, "unknown_assignment": 1,
                                          "duplicate_respondent_ref": 1}  # fmt: skip
    assert sum("@@" in r["email"] for r in rows) == 1
    assert sum(r["nps"] == "11" for r in rows) == 1
    assert sum(r["assignment_id"] == UNKNOWN_ASSIGNMENT for r in rows) == 1
    refs = Counter((r["assignment_id"], r["respondent_ref"]) for r in rows)
    assert sorted(refs.values())[-2:] == [1, 2]


def test_delivery_uses_only_assignments_the_client_may_still_deliver(tmp_path, clients_dir):
    write_client(clients_dir, "acme", retention_months=6, assignments=[
        {"id": "oud_2026", "title": "Voorbij de termijn", "completed_on": "2026-03-31"},
        {"id": "klaar_2026", "title": "Afgerond", "completed_on": "2026-10-15"},
        {"id": "lopend_2026", "title": "Lopend", "completed_on": None},
    ])  # fmt: skip
    client = config.get_client("acme")
    counts = sample_data.generate_delivery(client, tmp_path / "acme", as_of=AS_OF, seed=5, respondents=60, broken=False)
    rows = _responses(tmp_path / "acme", counts)
    assert counts["assignments"] == ["klaar_2026", "lopend_2026"]
    assert {r["assignment_id"] for r in rows} == {"klaar_2026", "lopend_2026"}
    completed = [r for r in rows if r["assignment_id"] == "klaar_2026"]
    assert all(_moment(r["invited_at"]).date() <= dt.date(2026, 10, 15) for r in completed), "invited before completion"
    assert counts["broken_files"] == {} and counts["planted_bad_rows"] == {}


def test_delivery_has_whole_files_that_cannot_load(delivery):
    landing, counts = delivery
    problems = {problem: landing / name for name, problem in counts["broken_files"].items()}
    assert set(problems) == {"wrong_encoding", "missing_required_columns", "empty_file"}
    with pytest.raises(UnicodeDecodeError):
        problems["wrong_encoding"].read_bytes().decode("utf-8")
    assert "ë" in problems["wrong_encoding"].read_bytes().decode("latin-1")
    header, rows = _read_csv(problems["missing_required_columns"])
    assert "respondent_ref" not in header and "invited_at" not in header and rows
    assert problems["empty_file"].stat().st_size == 0
    assert all(name.startswith("responses") and name.endswith(".csv") for name in counts["broken_files"])


def test_manifest_names_real_recordings_of_respondents_plus_two_broken_files(delivery):
    landing, counts = delivery
    ((manifest_name, listed),) = counts["manifests"].items()
    _, entries = _read_csv(landing / manifest_name)
    assert len(entries) == listed == counts["recordings"] + 2
    respondents = {(r["assignment_id"], r["respondent_ref"]) for r in _responses(landing, counts) if r["responded_at"]}
    good, broken = [], []
    for entry in entries:
        path = landing / entry["file_name"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert (entry["assignment_id"], entry["respondent_ref"]) in respondents
        try:
            with wave.open(str(path), "rb") as recording:
                complete = len(recording.readframes(recording.getnframes())) == recording.getnframes() * 2
        except (wave.Error, EOFError):
            complete = False
        (good if complete else broken).append(entry)
    assert len(good) == counts["recordings"] == 6
    assert len(broken) == 2 and counts["broken_recordings"] == {"not_a_wav": 1, "truncated_wav": 1}
    assert any((landing / e["file_name"]).read_bytes().startswith(b"Dit is geen") for e in broken)


def test_delivery_counts_hold_no_personal_values(delivery):
    landing, counts = delivery
    text = json.dumps(counts)
    for row in _responses(landing, counts):
        for column in ("respondent_ref", "last_name", "email", "phone", "postcode"):
            assert row[column] not in text


def test_same_seed_writes_byte_identical_deliveries(tmp_path):
    client = config.parse_client_file(config.settings.PROJECT_ROOT / "include" / "clients" / "woonstad_brabant.yaml")
    digests = []
    for folder in ("one", "two"):
        sample_data.generate_delivery(client, tmp_path / folder, as_of=AS_OF, seed=9, respondents=40, recordings=2)
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / folder).iterdir()})
    assert digests[0] == digests[1] and len(digests[0]) >= 10
