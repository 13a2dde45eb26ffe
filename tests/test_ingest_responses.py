"""A client drops a responses CSV in its landing folder: the people and their answers end up in the
warehouse, normalised, once; bad records wait in quarantine; the raw file is gone (design §4, R2, R4, R10)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from pathlib import Path

import pandas as pd
import phonenumbers
import pytest
import sqlalchemy as sa

from include import config, identifiers, settings, suppression, sync
from include.ingest import contract, responses, summary
from include.sample_data import fake_respondents, write_responses_csv
from tests.factories import write_client

AS_OF = dt.date(2026, 11, 20)
CLIENT = "testclient"
ASSIGNMENTS = [
    # a1: completed 30 June, 6 months retention: term ends 30 December, still open on AS_OF.
    {"id": "a1", "title": "Klanttevredenheid 2026", "completed_on": "2026-06-30", "destruction_requested_on": None},
    {"id": "a2", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": None},
    # a3: term ended 30 September (R2).
    {"id": "a3", "title": "Voorjaarsmeting", "completed_on": "2026-03-31", "destruction_requested_on": None},
    # a4: the client asked on 1 November to destroy it (R4).
    {"id": "a4", "title": "Proefproject", "completed_on": None, "destruction_requested_on": "2026-11-01"},
]


@pytest.fixture
def client(clients_dir, warehouse):
    write_client(clients_dir, CLIENT, assignments=ASSIGNMENTS)
    client = config.get_client(CLIENT)
    sync.apply_config(warehouse, client)
    return client


@pytest.fixture
def landing(kcm_home) -> Path:
    folder = settings.landing_dir(CLIENT)
    folder.mkdir(parents=True)
    return folder


def people(n: int, *, seed: int = 1, assignment_ids=("a1", "a2"), ref_start: int = 1) -> list[dict[str, str]]:
    return fake_respondents(n, assignment_ids=list(assignment_ids), seed=seed, as_of=AS_OF, ref_start=ref_start)


def without_response(person: dict[str, str], **changes: str) -> dict[str, str]:
    """The person as invited but never answering: no response moment, no answer values."""
    return person | dict.fromkeys(("responded_at", *contract.RESPONSE_VALUES), "") | changes


def ingest(warehouse, client, name: str, **options) -> dict:
    return responses.ingest_file(warehouse, client, name, run_id="manual__test", as_of=AS_OF, **options)


def rows(warehouse, query: str, **params) -> list[dict]:
    with warehouse.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(query), params).mappings()]


def stored(warehouse, ref: str) -> dict:
    [person] = rows(
        warehouse, "SELECT * FROM respondents WHERE client_id = :c AND respondent_ref = :r", c=CLIENT, r=ref
    )
    return person


def utc(value) -> dt.datetime:
    """A stored timestamp as an aware UTC datetime (SQLite keeps UTC text, PostgreSQL timestamptz)."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


# --- the happy path ------------------------------------------------------------------------


def test_dutch_excel_delivery_with_bom_semicolons_and_multiline_answers_loads_every_person(warehouse, client, landing):
    delivered = people(40)
    first = next(p for p in delivered if p["responded_at"])
    first["answer_text"] = 'Eerste regel; met puntkomma.\nTweede regel, met komma en "aanhalingstekens".'
    first["email"] = "  Jan.De.Vries@Example.NL "
    first["phone"] = "+31 (0)6 1234 5678"
    first["postcode"] = "1234ab"
    write_responses_csv(landing / "responses_2026_11.csv", delivered, delimiter=";", bom=True)

    result = ingest(warehouse, client, "responses_2026_11.csv")

    answered = sum(1 for p in delivered if p["responded_at"])
    assert result == {
        "file": "responses_2026_11.csv", "delivery_id": result["delivery_id"], "status": "loaded",
        "rows_total": 40, "rows_loaded": 40, "rows_quarantined": 0, "rows_suppressed": 0, "reasons": {},
    }  # fmt: skip
    assert rows(warehouse, "SELECT count(*) AS n FROM respondents")[0]["n"] == 40
    assert rows(warehouse, "SELECT count(*) AS n FROM responses")[0]["n"] == answered
    person = stored(warehouse, first["respondent_ref"])
    assert (person["email"], person["phone"], person["postcode"]) == (
        "jan.de.vries@example.nl",
        "+31612345678",
        "1234 AB",
    )
    [answer] = rows(warehouse, "SELECT answer_text, nps FROM responses WHERE respondent_id = :i", i=person["id"])
    assert answer["answer_text"] == first["answer_text"]
    assert answer["nps"] == int(first["nps"])
    assert list(landing.iterdir()) == [], "R10: the raw file leaves the landing zone once loaded"


def test_the_delivery_record_shows_file_counts_and_reasons_without_values(warehouse, client, landing):
    delivered = people(12)
    delivered[2]["email"] = "geen-adres-zxqv"
    delivered[5]["nps"], delivered[5]["responded_at"] = "11", delivered[5]["responded_at"] or delivered[5]["invited_at"]
    write_responses_csv(landing / "responses_week_47.csv", delivered)

    result = ingest(warehouse, client, "responses_week_47.csv")

    [record] = rows(warehouse, "SELECT * FROM deliveries WHERE id = :i", i=result["delivery_id"])
    assert (record["file_name"], record["file_kind"], record["status"]) == (
        "responses_week_47.csv", "responses", "partially_loaded"
    )  # fmt: skip
    assert (record["rows_total"], record["rows_loaded"], record["rows_quarantined"]) == (12, 10, 2)
    assert json.loads(record["reasons"]) == {"email:format": 1, "nps:range": 1}
    [held] = rows(warehouse, "SELECT * FROM quarantine_records WHERE delivery_id = :i", i=result["delivery_id"])
    assert (held["kind"], held["rows"], held["reason_code"]) == ("rows", 2, "bad_rows")
    rejected = settings.kcm_home() / "quarantine" / held["path"]
    with rejected.open(encoding="utf-8", newline="") as handle:
        kept = list(csv.DictReader(handle))
    assert [(row["_record"], row["_reasons"], row["email"]) for row in kept] == [
        ("3", "email:format", "geen-adres-zxqv"), ("6", "nps:range", delivered[5]["email"]),
    ]  # fmt: skip
    reasons_file = rejected.with_name(rejected.name + ".reason.json").read_text(encoding="utf-8")
    assert "zxqv" not in reasons_file and delivered[5]["email"] not in reasons_file
    assert "zxqv" not in record["reasons"] + held["reason"]


def test_timestamps_without_offset_are_amsterdam_time_and_invited_on_is_the_amsterdam_day(warehouse, client, landing):
    delivered = people(3, assignment_ids=("a2",))
    # 00:30 in Amsterdam on 3 November is 23:30 UTC on 2 November.
    delivered[0] = without_response(delivered[0], invited_at="2026-11-03T00:30:00")
    # 23:30 UTC on 2 November is already 3 November in Amsterdam.
    delivered[1] = without_response(delivered[1], invited_at="2026-11-02T23:30:00Z")
    # Summer time: 01:30 in Amsterdam on 1 July is 23:30 UTC on 30 June.
    delivered[2].update(invited_at="2026-07-01 01:30", responded_at="2026-07-01T09:00:00+02:00")
    write_responses_csv(landing / "responses_tijden.csv", delivered)

    assert ingest(warehouse, client, "responses_tijden.csv")["rows_loaded"] == 3

    expected = [
        (dt.datetime(2026, 11, 2, 23, 30, tzinfo=dt.UTC), "2026-11-03"),
        (dt.datetime(2026, 11, 2, 23, 30, tzinfo=dt.UTC), "2026-11-03"),
        (dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC), "2026-07-01"),
    ]
    found = [stored(warehouse, p["respondent_ref"]) for p in delivered]
    assert [(utc(p["invited_at"]), str(p["invited_on"])) for p in found] == expected
    assert utc(found[2]["responded_at"]) == dt.datetime(2026, 7, 1, 7, 0, tzinfo=dt.UTC)


# --- re-deliveries -------------------------------------------------------------------------


def test_corrected_redelivery_updates_the_person_instead_of_adding_one(warehouse, client, landing):
    delivered = people(6, assignment_ids=("a1",))
    answered = next(p for p in delivered if p["responded_at"])
    # Invited within the R3 term: without its answer the person is a non-respondent the warehouse may still hold.
    withdrawn = next(p for p in delivered if p["responded_at"] and p is not answered and p["invited_at"] >= "2026-10")
    write_responses_csv(landing / "responses_eerste.csv", delivered)
    ingest(warehouse, client, "responses_eerste.csv")

    answered.update(email="nieuw.adres@voorbeeld.nl", nps="3")
    write_responses_csv(landing / "responses_correctie.csv", [answered, without_response(withdrawn)])
    result = ingest(warehouse, client, "responses_correctie.csv")

    assert (result["status"], result["rows_loaded"]) == ("loaded", 2)
    assert rows(warehouse, "SELECT count(*) AS n FROM respondents")[0]["n"] == 6
    person = stored(warehouse, answered["respondent_ref"])
    assert person["email"] == "nieuw.adres@voorbeeld.nl"
    assert person["delivery_id"] == result["delivery_id"]
    [answer] = rows(warehouse, "SELECT nps FROM responses WHERE respondent_id = :i", i=person["id"])
    assert answer["nps"] == 3
    no_longer = stored(warehouse, withdrawn["respondent_ref"])
    assert no_longer["responded_at"] is None
    assert rows(warehouse, "SELECT * FROM responses WHERE respondent_id = :i", i=no_longer["id"]) == []


def test_the_same_file_delivered_twice_loads_once_and_leaves_landing(warehouse, client, landing):
    delivered = people(8)
    write_responses_csv(landing / "responses_nov.csv", delivered)
    content = (landing / "responses_nov.csv").read_bytes()
    first = ingest(warehouse, client, "responses_nov.csv")

    (landing / "responses_nov_opnieuw.csv").write_bytes(content)
    again = ingest(warehouse, client, "responses_nov_opnieuw.csv")

    assert (again["status"], again["delivery_id"], again["rows_loaded"]) == ("duplicate", first["delivery_id"], 0)
    assert rows(warehouse, "SELECT count(*) AS n FROM respondents")[0]["n"] == 8
    assert rows(warehouse, "SELECT count(*) AS n FROM deliveries")[0]["n"] == 1
    [event] = rows(warehouse, "SELECT counts FROM audit_events WHERE action = 'delivery_duplicate'")
    assert json.loads(event["counts"])["earlier_delivery_id"] == first["delivery_id"]
    assert list(landing.iterdir()) == []


def test_a_key_repeated_in_a_later_chunk_quarantines_every_record_of_it(warehouse, client, landing):
    delivered = people(14, assignment_ids=("a2",))
    twin = {**delivered[1], "first_name": delivered[1]["first_name"] + "je"}
    delivered.insert(11, twin)  # records 2 and 12: different chunks of five
    write_responses_csv(landing / "responses_dubbel.csv", delivered)

    result = ingest(warehouse, client, "responses_dubbel.csv", chunk_records=5)

    assert (result["rows_total"], result["rows_loaded"], result["rows_quarantined"]) == (15, 13, 2)
    assert result["reasons"] == {"duplicate_key": 2}
    ref = delivered[1]["respondent_ref"]
    assert rows(warehouse, "SELECT * FROM respondents WHERE respondent_ref = :r", r=ref) == []


# --- terms (R2, R4) ------------------------------------------------------------------------


def test_no_new_personal_data_arrives_for_an_assignment_past_its_term_or_destroyed(warehouse, client, landing):
    delivered = people(3, assignment_ids=("a1",)) + people(2, seed=2, assignment_ids=("a3",), ref_start=10)
    delivered += people(2, seed=3, assignment_ids=("a4",), ref_start=20)
    write_responses_csv(landing / "responses_laat.csv", delivered)

    result = ingest(warehouse, client, "responses_laat.csv")

    assert result["reasons"] == {"assignment_past_term": 2, "assignment_destroyed": 2}
    assert (result["rows_loaded"], result["rows_quarantined"]) == (3, 4)
    loaded = rows(warehouse, "SELECT DISTINCT assignment_id FROM respondents")
    assert [row["assignment_id"] for row in loaded] == ["a1"]


def test_a_person_who_objected_is_not_brought_back_by_a_later_delivery(warehouse, client, landing, monkeypatch):
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", "test-secret-" + "x" * 32)
    delivered = people(5)
    objector = delivered[2]
    with warehouse.begin() as conn:
        hashes = suppression.hashes_of({"email": identifiers.normalise_email(objector["email"])})
        suppression.add(conn, client_scope=CLIENT, hashes=hashes, request_id="verzoek-1", added_on=AS_OF)
    objector["phone"] = "onbekend"  # a bad record too: still not kept, not even in quarantine
    write_responses_csv(landing / "responses_na_bezwaar.csv", delivered)

    result = ingest(warehouse, client, "responses_na_bezwaar.csv")

    assert (result["rows_loaded"], result["rows_quarantined"], result["rows_suppressed"]) == (4, 0, 1)
    assert rows(warehouse, "SELECT * FROM respondents WHERE respondent_ref = :r", r=objector["respondent_ref"]) == []
    [record] = rows(warehouse, "SELECT rows_suppressed FROM deliveries")
    assert record["rows_suppressed"] == 1
    assert not settings.quarantine_dir(CLIENT).exists() or not any(settings.quarantine_dir(CLIENT).iterdir())


# --- crash safety, privacy of errors ---------------------------------------------------------


def test_a_failing_load_keeps_the_file_in_landing_and_its_error_names_no_value(warehouse, client, landing, monkeypatch):
    delivered = people(5)
    delivered[0]["last_name"] = "Zxqvfaal"
    write_responses_csv(landing / "responses_stroring.csv", delivered)

    def broken_upsert(self, client_id, delivery_id):
        raise sa.exc.IntegrityError("INSERT ...", {"last_name": "Zxqvfaal"}, Exception("Key (last_name)=(Zxqvfaal)"))

    monkeypatch.setattr(responses._Staging, "upsert", broken_upsert)
    with pytest.raises(responses.IngestError) as failure:
        ingest(warehouse, client, "responses_stroring.csv")

    assert "Zxqvfaal" not in str(failure.value)
    assert failure.value.__context__ is None and failure.value.__cause__ is None
    assert "IntegrityError" in str(failure.value) and "responses_stroring.csv" in str(failure.value)
    assert (landing / "responses_stroring.csv").exists(), "nothing committed: the next run tries again"
    assert rows(warehouse, "SELECT * FROM deliveries") == []
    assert rows(warehouse, "SELECT * FROM respondents") == []
    quarantined = settings.quarantine_dir(CLIENT)
    assert not quarantined.exists() or not any(quarantined.iterdir())


def test_log_lines_name_the_file_counts_and_reason_codes_only(warehouse, client, landing, caplog):
    delivered = people(9)
    delivered[4]["email"] = "Zxqvlog@@voorbeeld"
    write_responses_csv(landing / "responses_logboek.csv", delivered)

    with caplog.at_level(logging.INFO):
        ingest(warehouse, client, "responses_logboek.csv")

    assert "responses_logboek.csv: 8 rows loaded, 1 quarantined (email:format x1)" in caplog.text
    assert "zxqvlog" not in caplog.text.lower()


# --- the run summary -------------------------------------------------------------------------


def test_run_summary_reports_each_file_and_audits_the_totals(warehouse, client, landing, caplog):
    write_responses_csv(landing / "responses_a.csv", people(5))
    bad = people(4, seed=5, ref_start=50)
    bad[0]["csat"], bad[0]["responded_at"] = "9", bad[0]["responded_at"] or bad[0]["invited_at"]
    write_responses_csv(landing / "responses_b.csv", bad)
    write_responses_csv(landing / "responses_c.csv", people(3, seed=6), columns=["assignment_id", "email"])
    for name in ("responses_a.csv", "responses_b.csv", "responses_c.csv"):
        ingest(warehouse, client, name)
    write_responses_csv(landing / "responses_a_nogmaals.csv", people(5))
    ingest(warehouse, client, "responses_a_nogmaals.csv")

    with caplog.at_level(logging.INFO):
        totals = summary.summarise_run(warehouse, CLIENT, run_id="manual__test", as_of=AS_OF)

    assert totals == {
        "files": 4, "loaded": 1, "partially_loaded": 1, "quarantined": 1, "duplicates": 1,
        "rows_total": 12, "rows_loaded": 8, "rows_quarantined": 4, "rows_suppressed": 0,
        "reasons": {"csat:range": 1, "missing_columns": 1},
    }  # fmt: skip
    assert "responses_b.csv: partially_loaded, 3 of 4 rows loaded, 1 quarantined (csat:range x1)" in caplog.text
    assert "responses_a_nogmaals.csv: same content as delivery" in caplog.text
    [event] = rows(warehouse, "SELECT * FROM audit_events WHERE action = 'ingest_run'")
    assert (event["rule"], event["client_id"], json.loads(event["counts"])["rows_loaded"]) == ("INGEST", CLIENT, 8)
    held = summary.client_summary(warehouse, CLIENT)
    assert (held["invited"], held["deliveries"], held["quarantined_items"]) == (8, 3, 2)


# --- the contract and identifiers -------------------------------------------------------------


def test_contract_lengths_match_the_warehouse_columns(warehouse):
    inspector = sa.inspect(warehouse)
    for table in ("respondents", "responses"):
        lengths = {c["name"]: getattr(c["type"], "length", None) for c in inspector.get_columns(table)}
        for column in contract.COLUMNS:
            if column.table == table and column.name in lengths and lengths[column.name]:
                assert column.max_length == lengths[column.name], f"{table}.{column.name}"


@pytest.mark.parametrize(
    ("delivered", "expected"),
    [
        ("06-12345678", "+31612345678"),
        ("0031 6 12345678", "+31612345678"),
        ("+31 (0)6 12345678", "+31612345678"),
        ("020-1234567", "+31201234567"),
        ("(020) 123 45 67", "+31201234567"),
        ("612345678", "+31612345678"),  # Excel dropped the leading 0
        ("+310612345678", "+31612345678"),
        ("+32 470 12 34 56", "+32470123456"),
        ("0049 30 1234567", "+49301234567"),
        ("06-1234567", None),  # a digit short
        ("bel mij", None),
    ],
)
def test_phone_numbers_as_clients_type_them_are_stored_in_e164(delivered, expected):
    assert identifiers.normalise_phone(delivered) == expected
    [at_once] = identifiers.normalise_phones(pd.Series([delivered], dtype="str"))
    assert (None if pd.isna(at_once) else at_once) == expected
    if expected:
        parsed = phonenumbers.parse(delivered, "NL")
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == expected


def test_calling_codes_and_trunk_prefixes_agree_with_libphonenumber():
    from phonenumbers.phonemetadata import PhoneMetadata

    for country, (code, trunk) in identifiers.CALLING_CODES.items():
        metadata = PhoneMetadata.metadata_for_region(country)
        assert (int(code), trunk or None) == (metadata.country_code, metadata.national_prefix), country
    assert set(identifiers.CALLING_CODES) == config.EU_MEMBER_STATES


def test_scalar_and_vectorised_identifiers_agree_value_for_value():
    from faker import Faker

    fake = Faker("nl_NL")
    fake.seed_instance(11)
    samples = {
        "email": [fake.email() for _ in range(200)] + [" A@B.NL ", "a@b", "a b@c.nl", "x@@y.nl", "jöse@voorbeeld.nl"],
        "phone": [fake.phone_number() for _ in range(200)] + ["+31 6 1234 5678 ", "0800-1234", "06 123"],
        "postcode": [fake.postcode() for _ in range(200)] + ["1234ab", "1234 SA", "0123 AB", " 9999zz", "12345"],
    }
    scalar = {"email": identifiers.normalise_email, "phone": identifiers.normalise_phone,
              "postcode": identifiers.normalise_postcode}  # fmt: skip
    vectorised = {"email": identifiers.normalise_emails, "phone": identifiers.normalise_phones,
                  "postcode": identifiers.normalise_postcodes}  # fmt: skip
    for kind, values in samples.items():
        one_by_one = [scalar[kind](value) for value in values]
        at_once = [None if pd.isna(v) else v for v in vectorised[kind](pd.Series(values, dtype="str"))]
        assert one_by_one == at_once, kind
        # Faker's nl_NL writes a few impossible numbers ('+31(0)03 2215498'); nearly all are real.
        assert sum(v is not None for v in one_by_one) >= 190, f"{kind}: Faker's nl_NL values are valid"
        # Normalising twice changes nothing: what is stored matches a later subject request.
        assert [scalar[kind](v) for v in one_by_one if v] == [v for v in one_by_one if v], kind


def test_dutch_postcodes_are_spaced_and_upper_cased_and_never_sa_sd_ss():
    assert identifiers.normalise_postcode("1234ab") == "1234 AB"
    assert [identifiers.normalise_postcode(p) for p in ("1234 SA", "1234sd", "1234 SS", "0999 AB")] == [None] * 4
    assert identifiers.normalise_postcode(" b-1000 ", "BE") == "B-1000"
    assert identifiers.normalise_postcode("75008", "FR") == "75008"
