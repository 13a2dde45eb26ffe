"""R11: the nightly proof passes after a real night and fails, naming rule, table or store and count,
for every kind of data that outlived its term — planted straight into the warehouse or a file store."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil

import pytest
import sqlalchemy as sa

from include import audit, proof, recordings_store, settings
from include.terms import AMSTERDAM
from tests.retention_night import (
    AS_OF,
    DESTROYED,
    PAST_TERM,
    RUN_ID,
    RUNNING,
    Night,
    client_config,
    populated,
    set_mtime,
)


@pytest.fixture
def night(warehouse, clients_dir) -> Night:
    """Client acme_energie after the real night of 1 March 2027."""
    state = populated(warehouse, client_config(clients_dir))
    state.run()
    state.quarantined_file(dt.date(2027, 2, 25))  # a bad delivery after the destruction, within its term
    return state


def failures(night: Night, client=None) -> tuple[dict[str, int], proof.ProofFailed]:
    with pytest.raises(proof.ProofFailed) as caught:
        proof.prove(night.eng, client or night.client, night.as_of, night.run_id)
    return {f["check"]: f["count"] for f in caught.value.summary["failed"]}, caught.value


def execute(night: Night, statement: str, **params) -> int:
    with night.eng.begin() as conn:
        return conn.execute(sa.text(statement), params).rowcount


def an_anonymised_respondent(night: Night, offset: int = 0) -> int:
    with night.eng.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT id FROM respondents WHERE assignment_id = :a AND anonymised_on IS NOT NULL "
                "ORDER BY id LIMIT 1 OFFSET :offset"
            ),
            {"a": PAST_TERM, "offset": offset},
        ).scalar_one()


def a_respondent_of(night: Night, assignment_id: str) -> int:
    with night.eng.connect() as conn:
        return conn.execute(
            sa.text("SELECT min(id) FROM respondents WHERE assignment_id = :a AND responded_at IS NOT NULL"),
            {"a": assignment_id},
        ).scalar_one()


def insert_respondent(night: Night, assignment_id: str, **values) -> int:
    row = {
        "client_id": night.client.client_id,
        "assignment_id": assignment_id,
        "invited_at": dt.datetime(2026, 5, 4, tzinfo=dt.UTC),
        "invited_on": dt.date(2026, 5, 4),
        "responded_at": dt.datetime(2026, 5, 5, tzinfo=dt.UTC),
        "loaded_at": dt.datetime(2026, 5, 6, tzinfo=dt.UTC),
        **values,
    }
    with night.eng.begin() as conn:
        return conn.execute(
            sa.text(
                f"INSERT INTO respondents ({', '.join(row)}) VALUES ({', '.join(':' + k for k in row)}) RETURNING id"
            ),
            row,
        ).scalar_one()


# --- the night of the pipeline passes ---------------------------------------------------------


def test_after_a_night_of_the_pipeline_the_proof_passes_with_its_evidence(night):
    summary = proof.prove(night.eng, night.client, night.as_of, night.run_id)

    assert summary["passed"] is True
    assert summary["failed"] == []
    assert summary["expectations"] >= 40
    for key in ("report_html", "report_json", "data_docs"):
        assert settings.reports_dir() in proof.Path(summary[key]).parents
        assert proof.Path(summary[key]).is_file()
    json.dumps(summary)  # XCom-safe
    with night.eng.connect() as conn:
        event = conn.execute(
            sa.text("SELECT rule, action, run_id, counts FROM audit_events ORDER BY seq DESC LIMIT 1")
        ).one()
    assert (event.rule, event.action, event.run_id) == ("R11", "proof_passed", RUN_ID)
    assert json.loads(event.counts)["expectations"] == summary["expectations"]


def test_checks_come_from_the_data_map_for_every_personal_column_treated_at_term(night):
    checks = {c.check_id: c for c in proof.observe(night.eng, night.client, night.as_of)}

    for column in ("respondent_ref", "first_name", "email", "birth_date", "postcode", "invited_at", "transaction_date"):
        assert checks[f"R2 respondents.{column}"].rule == "R2"
    for column in ("ip_address", "user_agent"):
        assert f"R2 responses.{column}" in checks
    assert "R2 respondents.gender" not in checks  # kept by the data map: a quasi-identifier
    assert "R2 respondents.invited_on" not in checks  # kept: the day the R3 term counts from
    assert checks["R9 respondents.age_band"].rule == "R9"
    assert checks["R6 respondents.erased_present"].observed == 0  # nobody erased yet: one query, no secret needed
    assert checks["R7 respondents.suppressed_present"].observed == 0


# --- R2: nothing personal past term -------------------------------------------------------------


def test_every_personal_column_left_filled_past_term_fails_its_own_expectation(night):
    """One anonymised respondent per column gets its value back; each column's expectation counts exactly 1."""
    planted: dict[str, int] = {}
    values = {
        "remove": "Jansen-Teruggezet",
        "age_band": dt.date(1971, 4, 2),
        "region": "3511 AB",
        "day": dt.datetime(2026, 5, 10, 14, 33, tzinfo=dt.UTC),
        "month": dt.date(2026, 4, 17),
    }
    offset = 0
    for table in ("respondents", "responses"):
        for check in proof.column_checks(table, night.client.open_text):
            if check.rule != "R2":
                continue
            treatment = next(c.treatment for c in proof.data_map.load().table(table) if c.column == check.column)
            key = "id" if table == "respondents" else "respondent_id"
            execute(
                night,
                f"UPDATE {table} SET {check.column} = :value WHERE {key} = :id",
                value=values[treatment],
                id=an_anonymised_respondent(night, offset),
            )
            planted[f"R2 {table}.{check.column}"] = 1
            offset += 1

    failed, error = failures(night)

    assert failed == planted
    assert "R2 respondents.email: 1" in str(error)
    assert "Jansen-Teruggezet" not in str(error)


def test_generalised_columns_holding_a_date_or_postcode_fail_r9_and_break_k_anonymity(night):
    execute(night, "UPDATE respondents SET age_band = '1971-04-02' WHERE id = :id", id=an_anonymised_respondent(night))
    execute(night, "UPDATE respondents SET region = '3511 AB' WHERE id = :id", id=an_anonymised_respondent(night, 1))

    failed, _ = failures(night)

    assert set(failed) == {"R9 respondents.age_band", "R9 respondents.region", "R9 respondents.k_anonymity"}
    assert failed["R9 respondents.age_band"] == failed["R9 respondents.region"] == 1
    assert failed["R9 respondents.k_anonymity"] >= 2  # each stands alone, and may leave its old class short


def test_respondent_of_an_assignment_past_term_not_anonymised_fails_r2(night):
    insert_respondent(night, PAST_TERM)

    failed, _ = failures(night)

    assert failed == {"R2 respondents.anonymised_on": 1}


def test_assignment_past_term_still_marked_completed_fails_r2(night):
    execute(night, "UPDATE assignments SET status = 'completed' WHERE assignment_id = :a", a=PAST_TERM)

    failed, error = failures(night)

    assert failed == {"R2 assignments.status": 1}
    assert "R2 assignments.status: 1" in str(error)


def test_warehouse_term_moved_away_from_the_client_config_fails_r2(night):
    execute(
        night,
        "UPDATE assignments SET term_ends_on = :later WHERE assignment_id = :a",
        later=dt.date(2027, 12, 30),
        a=PAST_TERM,
    )

    failed, _ = failures(night)

    assert failed == {"R2 assignments.term_ends_on": 1}


def test_recording_of_an_assignment_past_term_fails_r2(night):
    night.recording(PAST_TERM, an_anonymised_respondent(night))
    execute(night, "UPDATE recordings SET file_name = NULL WHERE assignment_id = :a", a=PAST_TERM)

    failed, _ = failures(night)

    assert failed == {"R2 recordings.rows": 1}


def test_client_that_drops_open_text_fails_while_an_answer_is_left(night):
    dropping = night.client.model_copy(update={"open_text": "drop"})
    with night.eng.connect() as conn:
        answers = conn.execute(
            sa.text("SELECT count(*) FROM responses WHERE assignment_id = :a AND answer_text IS NOT NULL"),
            {"a": PAST_TERM},
        ).scalar_one()

    failed, _ = failures(night, dropping)

    assert answers > 0
    assert failed == {"R2 responses.answer_text": answers}


# --- R3, R4 -------------------------------------------------------------------------------------


def test_non_respondent_invited_three_months_ago_still_held_fails_r3(night):
    insert_respondent(
        night,
        RUNNING,
        invited_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        invited_on=dt.date(2026, 12, 1),
        responded_at=None,
        email="nog.hier@example.nl",
    )

    failed, error = failures(night)

    assert failed == {"R3 respondents.non_respondents": 1}
    assert "nog.hier" not in str(error)


def test_non_respondent_invited_within_the_term_passes(night):
    insert_respondent(
        night,
        RUNNING,
        invited_at=dt.datetime(2027, 1, 2, tzinfo=dt.UTC),
        invited_on=dt.date(2027, 1, 2),
        responded_at=None,
    )

    assert proof.prove(night.eng, night.client, night.as_of, night.run_id)["passed"]


def test_answers_and_recordings_of_a_destroyed_assignment_fail_r4(night):
    respondent = insert_respondent(night, DESTROYED)
    execute(
        night,
        "INSERT INTO responses (respondent_id, client_id, assignment_id, nps) VALUES (:id, :c, :a, 7)",
        id=respondent,
        c=night.client.client_id,
        a=DESTROYED,
    )
    night.recording(DESTROYED, respondent)

    failed, _ = failures(night)

    assert failed == {"R4 respondents.rows": 1, "R4 responses.rows": 1, "R4 recordings.rows": 1}


def test_destruction_date_changed_behind_the_config_fails_r4(night):
    execute(night, "UPDATE assignments SET destruction_requested_on = NULL WHERE assignment_id = :a", a=DESTROYED)

    failed, _ = failures(night)

    assert failed == {"R4 assignments.destruction_requested_on": 1}


def test_destroyed_client_passes_until_a_delivery_lingers_in_its_landing_zone(warehouse, clients_dir):
    client = client_config(clients_dir, destruction_requested_on="2027-02-20")
    night = populated(warehouse, client)
    night.run()
    assert proof.prove(night.eng, client, night.as_of, night.run_id)["passed"]

    landing = settings.landing_dir(client.client_id)
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "responses_na_vernietiging.csv").write_text("assignment_id\n", encoding="utf-8")

    failed, _ = failures(night)

    assert failed == {"R4 landing store.files": 1}


# --- R9 -------------------------------------------------------------------------------------------


def test_two_anonymised_respondents_that_stand_out_fail_k_anonymity(night):
    for _ in range(2):
        insert_respondent(
            night,
            PAST_TERM,
            invited_at=dt.datetime(2026, 5, 4, tzinfo=dt.UTC),
            responded_at=dt.datetime(2026, 5, 5, tzinfo=dt.UTC),
            gender="x",
            age_band="18-24",
            region="NL-10",
            anonymised_on=dt.date(2026, 12, 30),
        )

    failed, _ = failures(night)

    assert failed == {"R9 respondents.k_anonymity": 2}


def test_anonymised_answer_with_a_phone_number_fails_r9(night):
    execute(
        night,
        "UPDATE responses SET answer_text = :text WHERE respondent_id = :id",
        text="Bel mij gerust terug op 06 12345678, groet",
        id=an_anonymised_respondent(night),
    )

    failed, error = failures(night)

    assert failed == {"R9 responses.answer_text.identifiers": 1}
    assert "12345678" not in str(error)


def test_anonymised_answers_with_only_scrub_tags_and_small_numbers_pass(night):
    execute(
        night,
        "UPDATE responses SET answer_text = :text WHERE respondent_id = :id",
        text="<NAAM> kwam 2 keer, na 15 minuten wachten; cijfer 8",
        id=an_anonymised_respondent(night),
    )

    assert proof.prove(night.eng, night.client, night.as_of, night.run_id)["passed"]


def test_every_answer_with_an_identifier_pattern_reaches_the_check(night):
    """The database pre-selects answers that could hold an identifier; none that does may slip past it."""
    from faker import Faker

    from include.anonymisers.text import find_identifiers

    fake = Faker("nl_NL")
    fake.seed_instance(11)
    texts = ["Bel me: 06-1234 5678.", "+31 6 12 34 56 78", "0 6 1 2 3 4 5 6 7 8", "NL91 ABNA 0417 1643 00",
             "nl91abna0417164300", "Ik woon op 1234AB", "postcode 1234 AB!", "mail a@b.nl", "BSN 111.222.333",
             "wachtte 15 minuten, cijfer 8", "<NAAM> belde 2 keer op 3 maart"]  # fmt: skip
    for _ in range(20):
        texts += [f"Bel {fake.phone_number()}", f"Rekening {fake.iban()}", f"BSN {fake.ssn()}",
                  f"Ik woon in {fake.postcode()} {fake.city()}", f"Mail {fake.email()}"]  # fmt: skip
    with night.eng.connect() as conn:
        ids = (
            conn.execute(
                sa.text("SELECT respondent_id FROM responses WHERE assignment_id = :a ORDER BY respondent_id"),
                {"a": PAST_TERM},
            )
            .scalars()
            .all()
        )
    execute(night, "UPDATE responses SET answer_text = NULL WHERE assignment_id = :a", a=PAST_TERM)
    with night.eng.begin() as conn:  # several answers per respondent: one statement per text
        for i, text in enumerate(texts):
            conn.execute(
                sa.text("UPDATE responses SET answer_text = :t WHERE respondent_id = :id"), {"t": text, "id": ids[0]}
            )
            found = {c.check_id: c.observed for c in proof._open_text(conn, night.client, night.as_of)}
            assert found["R9 responses.answer_text.identifiers"] == bool(find_identifiers(text)), f"sample {i}"
    assert sum(bool(find_identifiers(t)) for t in texts) >= 100


# --- R10: file stores ----------------------------------------------------------------------------


def test_wav_in_the_recordings_store_without_a_row_fails_r10(night):
    night.recording(RUNNING, 0, row=False)

    failed, _ = failures(night)

    assert failed == {"R10 recordings store.orphan_files": 1}


def test_recording_row_whose_file_is_gone_fails_r10(night):
    with night.eng.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT stored_path FROM recordings WHERE assignment_id = :a"), {"a": RUNNING}
        ).scalar_one()
    recordings_store.path_of(stored).unlink()

    failed, _ = failures(night)

    assert failed == {"R10 recordings.missing_files": 1}


def test_recording_left_marked_for_deletion_fails_r10(night):
    execute(night, "UPDATE recordings SET state = 'deleting', delete_rule = 'R3' WHERE assignment_id = :a", a=RUNNING)

    failed, _ = failures(night)

    assert failed == {"R10 recordings.left_deleting": 1}


def test_recording_of_a_respondent_no_longer_held_fails_r10(night):
    night.recording(RUNNING, 987654321)

    failed, _ = failures(night)

    assert failed == {"R10 recordings.without_respondent": 1}


def test_delivery_file_left_in_the_landing_zone_after_loading_fails_r10(night):
    landing = settings.landing_dir(night.client.client_id)
    landing.mkdir(parents=True, exist_ok=True)
    delivered = landing / "responses_2027_02.csv"
    delivered.write_text("assignment_id;respondent_ref\nlopend-2027;K1\n", encoding="utf-8")
    execute(
        night,
        "INSERT INTO deliveries (client_id, file_name, file_kind, sha256, size_bytes, received_at, status) "
        "VALUES (:c, :name, 'responses', :sha, :size, :at, 'loaded')",
        c=night.client.client_id,
        name=delivered.name,
        sha=hashlib.sha256(delivered.read_bytes()).hexdigest(),
        size=delivered.stat().st_size,
        at=dt.datetime(2027, 2, 28, tzinfo=dt.UTC),
    )
    (landing / "responses_2027_03.csv").write_text("assignment_id;respondent_ref\n", encoding="utf-8")  # waits

    failed, _ = failures(night)

    assert failed == {"R10 landing store.handled_files": 1}


def test_wav_waiting_for_its_manifest_past_the_grace_days_fails_r10(night):
    landing = settings.landing_dir(night.client.client_id)
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "gesprek_0001.wav").write_bytes(b"RIFF")

    failed, _ = failures(night)  # it arrived today, months before the night of 1 March 2027

    assert failed == {"R10 landing store.waiting_wavs": 1}
    arrived = amsterdam_today()
    assert proof.prove(night.eng, night.client, arrived + dt.timedelta(days=8), night.run_id + "-8")  # still in grace


def test_quarantined_item_past_its_purge_day_fails_r10(night):
    execute(night, "UPDATE quarantine_records SET purge_on = :day", day=dt.date(2027, 2, 28))

    failed, _ = failures(night)

    assert failed == {"R10 quarantine_records.past_term": 1}


def test_quarantine_record_whose_file_is_gone_fails_r10(night):
    with night.eng.connect() as conn:
        path = conn.execute(sa.text("SELECT path FROM quarantine_records WHERE purged_on IS NULL")).scalar_one()
    (settings.kcm_home() / "quarantine" / path).unlink()

    failed, _ = failures(night)

    assert failed == {"R10 quarantine_records.missing_files": 1}


def test_quarantine_file_of_a_purged_record_fails_r10(night):
    execute(night, "UPDATE quarantine_records SET purged_on = :day", day=AS_OF)

    failed, _ = failures(night)

    assert failed == {"R10 quarantine store.files_past_term": 2}  # the file and its reason file


def test_quarantine_file_without_a_record_fails_r10_after_thirty_days_only(night):
    stray = settings.quarantine_dir(night.client.client_id) / "0123456789abcdef-responses_verdwaald.csv"
    stray.write_text("assignment_id\n", encoding="utf-8")
    set_mtime(stray, dt.date(2027, 2, 10))
    assert proof.prove(night.eng, night.client, night.as_of, night.run_id)["passed"]  # 19 days: within its term

    set_mtime(stray, dt.date(2027, 1, 20))
    failed, _ = failures(night)

    assert failed == {"R10 quarantine store.files_past_term": 1}


def test_subject_request_export_older_than_thirty_days_fails_r10(night):
    old = settings.exports_dir() / "req-2027-0001"
    old.mkdir(parents=True)
    (old / "export.json").write_text("{}", encoding="utf-8")
    set_mtime(old / "export.json", dt.date(2027, 1, 15))
    set_mtime(old, dt.date(2027, 1, 15))
    recent = settings.exports_dir() / "req-2027-0002"
    recent.mkdir()
    (recent / "export.json").write_text("{}", encoding="utf-8")
    set_mtime(recent / "export.json", dt.date(2027, 2, 25))
    set_mtime(recent, dt.date(2027, 2, 25))

    failed, _ = failures(night)

    assert failed == {"R10 exports store.past_term": 1}


# --- R6, R7: erased and objecting people are gone ---------------------------------------------------

SECRET = "een-lang-geheim-voor-de-proef-van-de-suppressielijst-0123456789"


def held_email(night: Night) -> str:
    with night.eng.connect() as conn:
        return conn.execute(
            sa.text("SELECT email FROM respondents WHERE id = :id"), {"id": a_respondent_of(night, RUNNING)}
        ).scalar_one()


def record_request(night: Night, request_type: str, email: str, table: str) -> None:
    from include import suppression

    digest = suppression.keyed_hash("email", suppression.normalise("email", email))
    request_id = f"req-{request_type}"
    execute(
        night,
        "INSERT INTO subject_requests (request_id, request_type, client_scope, received_on, due_on, status, "
        "identifier_kinds, subject_hmac, run_id, recorded_at) VALUES (:r, :t, '*', :day, :due, 'done', 'email', "
        ":h, :r, :at)",
        r=request_id,
        t=request_type,
        day=dt.date(2027, 2, 1),
        due=dt.date(2027, 3, 1),
        h=digest,
        at=dt.datetime(2027, 2, 1, tzinfo=dt.UTC),
    )
    if table == "erased_subjects":
        execute(
            night,
            "INSERT INTO erased_subjects (request_id, identifier_kind, identifier_hmac, client_scope, "
            "erased_at) VALUES (:r, 'email', :h, '*', :at)",
            r=request_id,
            h=digest,
            at=dt.datetime(2027, 2, 27, tzinfo=dt.UTC),
        )
    else:
        execute(
            night,
            "INSERT INTO suppression_list (client_scope, identifier_kind, identifier_hmac, request_id, "
            "added_on) VALUES ('*', 'email', :h, :r, :day)",
            r=request_id,
            h=digest,
            day=dt.date(2027, 2, 27),
        )


def test_erased_person_still_held_fails_r6(night, monkeypatch):
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", SECRET)
    email = held_email(night)
    record_request(night, "erasure", email, "erased_subjects")

    failed, error = failures(night)

    assert failed == {"R6 respondents.erased_present": 1}
    assert email not in str(error)


def test_objecting_person_still_held_fails_r7(night, monkeypatch):
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", SECRET)
    record_request(night, "objection", held_email(night), "suppression_list")

    failed, _ = failures(night)

    assert failed == {"R7 respondents.suppressed_present": 1}


def test_erasure_that_cannot_be_checked_without_the_secret_fails_and_says_why(night, monkeypatch):
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", SECRET)
    record_request(night, "erasure", "iemand.anders@example.nl", "erased_subjects")
    monkeypatch.delenv("KCM_SUPPRESSION_SECRET")

    failed, _ = failures(night)

    assert failed == {"R6 respondents.erased_present": 1, "R7 respondents.suppressed_present": 1}
    check = next(c for c in proof.observe(night.eng, night.client, night.as_of) if c.rule == "R6")
    assert check.note.startswith("could not be checked: no secret for the suppression list")


# --- R12 ----------------------------------------------------------------------------------------------


def test_event_slipped_into_the_audit_trail_fails_r12(night):
    forged = {
        "recorded_at": "2027-03-01T01:00:00+00:00",
        "rule": "R2",
        "action": "respondents_anonymised",
        "counts": "{}",
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    }
    execute(
        night,
        "INSERT INTO audit_events (recorded_at, rule, action, counts, prev_hash, hash) "
        "VALUES (:recorded_at, :rule, :action, :counts, :prev_hash, :hash)",
        **forged,
    )
    problems = len(audit.verify(night.eng, update_anchor=False).problems)

    failed, _ = failures(night)

    assert problems >= 1
    assert failed == {"R12 audit_events.chain": problems}


# --- what a failure leaves behind -------------------------------------------------------------------


def test_failed_proof_writes_its_evidence_and_audit_event_before_failing(night):
    night.recording(RUNNING, 0, row=False)

    _, error = failures(night)

    summary = error.summary
    assert summary["passed"] is False
    assert summary["failed"] == [
        {"check": "R10 recordings store.orphan_files", "rule": "R10", "table_or_store": "recordings store", "count": 1}
    ]
    report = json.loads(proof.Path(summary["report_json"]).read_text())
    assert report["passed"] is False
    assert report["failed"] == summary["failed"]
    assert str(summary["report_html"]) in str(error)
    with night.eng.connect() as conn:
        event = conn.execute(sa.text("SELECT action, counts FROM audit_events ORDER BY seq DESC LIMIT 1")).one()
    assert event.action == "proof_failed"
    assert json.loads(event.counts)["failed_checks"] == {"R10 recordings store.orphan_files": 1}


def test_without_subject_request_tables_the_check_says_why_it_does_not_apply(night):
    with night.eng.begin() as conn:
        for table in ("erased_subjects", "suppression_list", "subject_requests"):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    checks = {c.check_id: c for c in proof.observe(night.eng, night.client, night.as_of)}

    for check_id in ("R6 respondents.erased_present", "R7 respondents.suppressed_present"):
        assert checks[check_id].observed is None
        assert checks[check_id].note == "not applicable: no subject_requests table"
    assert proof.prove(night.eng, night.client, night.as_of, night.run_id)["passed"]


def test_recordings_store_of_another_client_is_not_this_clients_concern(night):
    other = recordings_store.root() / "woonstad_brabant" / "a1"
    other.mkdir(parents=True)
    (other / f"{'0' * 64}.wav").write_bytes(b"RIFF")
    try:
        assert proof.prove(night.eng, night.client, night.as_of, night.run_id)["passed"]
    finally:
        shutil.rmtree(other.parent)


def amsterdam_today() -> dt.date:
    """The calendar day in Europe/Amsterdam, as landing files are aged (not the machine's UTC day)."""
    return dt.datetime.now(AMSTERDAM).date()
