"""A corpus of bad deliveries: each lands in quarantine with the right reason and nothing is lost
(records in = records loaded + records quarantined), on SQLite and PostgreSQL (design §4, R10)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from include import config, settings, sync
from include.ingest import contract, responses
from include.sample_data import RESPONSE_COLUMNS, fake_respondents, write_responses_csv
from tests.factories import write_client

AS_OF = dt.date(2026, 11, 20)
CLIENT = "testclient"
ASSIGNMENTS = [
    {"id": "a1", "title": "Klanttevredenheid 2026", "completed_on": "2026-06-30", "destruction_requested_on": None},
    {"id": "a2", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": None},
    {"id": "a3", "title": "Voorjaarsmeting", "completed_on": "2026-03-31", "destruction_requested_on": None},
    {"id": "a4", "title": "Proefproject", "completed_on": None, "destruction_requested_on": "2026-11-01"},
]
PLANTED = "Zxqvcorpus"


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


def delivery() -> list[dict[str, str]]:
    """Four good people; the first carries a planted name, the second has answered."""
    rows = fake_respondents(4, assignment_ids=["a1", "a2"], seed=3, as_of=AS_OF)
    rows[0]["last_name"] = PLANTED
    rows[1].update(invited_at="2026-11-01T09:00:00", responded_at="2026-11-02T12:00:00+01:00", nps="8", csat="4")
    return rows


def without_response(person: dict[str, str], **changes: str) -> dict[str, str]:
    return person | dict.fromkeys(("responded_at", *contract.RESPONSE_VALUES), "") | changes


# --- builders: each writes one bad delivery --------------------------------------------------


def spoil(**changes: str) -> Callable[[Path], None]:
    """A good delivery whose second record is changed."""

    def write(path: Path) -> None:
        rows = delivery()
        rows[1] = rows[1] | changes
        write_responses_csv(path, rows)

    return write


def spoil_with(change: Callable[[dict[str, str]], dict[str, str]]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        rows = delivery()
        rows[1] = change(rows[1])
        write_responses_csv(path, rows)

    return write


def text(content: str, encoding: str = "utf-8") -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content.encode(encoding))


def good_csv(**options) -> str:
    """The good delivery as CSV text."""
    scratch = Path(settings.kcm_home()) / "scratch.csv"
    write_responses_csv(scratch, delivery(), **options)
    with scratch.open(encoding="utf-8", newline="") as handle:
        content = handle.read()
    scratch.unlink()
    return content


def latin1(path: Path) -> None:
    rows = delivery()
    rows[2]["first_name"] = "Zoë"
    write_responses_csv(path, rows, encoding="latin-1")


def utf16(path: Path) -> None:
    path.write_bytes(good_csv().encode("utf-16"))


def spreadsheet(path: Path) -> None:
    # An .xlsx renamed to .csv: a zip archive.
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + PLANTED.encode() + b"\x00" * 64)


def nul_in_a_cell(path: Path) -> None:
    path.write_text(good_csv().replace(PLANTED, PLANTED + "\x00"), encoding="utf-8")


def headerless(path: Path) -> None:
    path.write_text(good_csv().split("\n", 1)[1], encoding="utf-8")


def repeated_column(path: Path) -> None:
    content = good_csv()
    header, body = content.split("\r\n", 1)
    path.write_text(header.replace("last_name", "email") + "\r\n" + body, encoding="utf-8")


def blank_first_line(path: Path) -> None:
    path.write_text("\r\n" + good_csv(), encoding="utf-8")


def stray_quote(path: Path) -> None:
    # An answer opens a quote it never closes: csv would read the rest of the file as one cell.
    lines = [",".join(RESPONSE_COLUMNS), f"a1,R0000001,2026-11-01T10:00:00,2026-11-02T10:00:00,Jan,{PLANTED}" + ","]
    lines[1] += ',,,,,,,,,,,,,8,4,"Ik begon een antwoord met een aanhalingsteken,,,'
    filler = "a2,R{:07d},2026-11-01T10:00:00,,Piet,Jansen,piet{}@voorbeeld.nl,,,,,,,,,,,,,,,,,"
    lines += [filler.format(n, n) for n in range(2, 4000)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


def short_record(path: Path) -> None:
    content = good_csv()
    header, first, second, *rest = content.split("\r\n")
    path.write_text("\r\n".join([header, first, ",".join(second.split(",")[:5]), *rest]), encoding="utf-8")


def twin(path: Path) -> None:
    rows = delivery()
    rows.append(rows[1] | {"first_name": rows[1]["first_name"] + "je"})
    write_responses_csv(path, rows)


@dataclass(frozen=True)
class Bad:
    id: str
    reason: str
    write: Callable[[Path], None]
    whole_file: bool = False
    bad_records: int = 1


CORPUS = [
    # Files that cannot be read as a whole.
    Bad("empty_file", "empty", text(""), whole_file=True),
    Bad("only_bom_and_blank_lines", "empty", text("\ufeff\r\n\r\n"), whole_file=True),
    Bad("header_without_records", "empty", text(",".join(RESPONSE_COLUMNS) + "\r\n"), whole_file=True),
    Bad("latin1_export", "encoding", latin1, whole_file=True),
    Bad("utf16_export", "encoding", utf16, whole_file=True),
    Bad("spreadsheet_renamed_to_csv", "not_csv", spreadsheet, whole_file=True),
    Bad("nul_byte_in_a_cell", "not_csv", nul_in_a_cell, whole_file=True),
    Bad("json_named_csv", "no_header", text(f'{{"assignment_id": "a1", "last_name": "{PLANTED}"}}\n'), whole_file=True),
    Bad("records_without_header", "no_header", headerless, whole_file=True),
    Bad("blank_line_before_header", "no_header", blank_first_line, whole_file=True),
    Bad(
        "tab_separated",
        "delimiter",
        lambda path: write_responses_csv(path, delivery(), delimiter="\t"),
        whole_file=True,
    ),
    Bad("column_named_twice", "duplicate_columns", repeated_column, whole_file=True),
    Bad(
        "missing_key_columns",
        "missing_columns",
        lambda path: write_responses_csv(
            path, delivery(), columns=[c for c in RESPONSE_COLUMNS if c not in ("respondent_ref", "invited_at")]
        ),
        whole_file=True,
    ),
    Bad("unclosed_quote_swallows_the_rest", "not_csv", stray_quote, whole_file=True),
    # Bad records beside good ones.
    Bad("record_with_too_few_fields", "field_count", short_record),
    Bad("email_without_domain", "email:format", spoil(email=f"{PLANTED.lower()}@")),
    Bad("phone_that_is_no_number", "phone:format", spoil(phone="bel mij 's avonds")),
    Bad("postcode_never_issued", "postcode:format", spoil(postcode="1234 SS")),
    Bad("missing_invitation_moment", "invited_at:required", spoil(invited_at="")),
    Bad("dutch_date_order", "invited_at:format", spoil(invited_at="01-11-2026 09:00")),
    Bad("nanosecond_timestamp", "invited_at:format", spoil(invited_at="2026-11-01T09:00:00.123456789Z")),
    Bad("thirtieth_of_february", "invited_at:invalid_date", spoil(invited_at="2026-02-30T10:00:00")),
    Bad("birthday_on_29_february_1990", "birth_date:invalid_date", spoil(birth_date="1990-02-29")),
    Bad("born_in_the_future", "birth_date:range", spoil(birth_date="2031-01-01")),
    Bad("nps_of_eleven", "nps:range", spoil(nps="11")),
    Bad("csat_of_zero", "csat:range", spoil(csat="0")),
    Bad("score_with_decimal_comma", "nps:range", spoil(nps="7,5")),
    Bad("unknown_assignment", "unknown_assignment", spoil(assignment_id="a9")),
    Bad("assignment_past_its_term", "assignment_past_term", spoil(assignment_id="a3")),
    Bad("assignment_destroyed", "assignment_destroyed", spoil(assignment_id="a4")),
    Bad("same_person_twice", "duplicate_key", twin, bad_records=2),
    Bad("responded_before_invited", "responded_before_invited", spoil(responded_at="2026-10-01T09:00:00")),
    Bad("score_without_response", "nps:score_without_response", spoil_with(lambda p: without_response(p, nps="7"))),
    Bad(
        "answer_without_response",
        "answer_text:answer_without_response",
        spoil_with(lambda p: without_response(p, answer_text="Prima geholpen")),
    ),
    Bad("missing_respondent_ref", "respondent_ref:required", spoil(respondent_ref=" ")),
    Bad("first_name_too_long", "first_name:length", spoil(first_name="A" * 101)),
    Bad("ip_address_out_of_range", "ip_address:format", spoil(ip_address="999.10.10.10")),
]


def quarantine_texts() -> str:
    folder = settings.quarantine_dir(CLIENT)
    return "".join(path.read_text(encoding="utf-8") for path in folder.glob("*.reason.json"))


def test_the_corpus_has_at_least_twenty_bad_deliveries():
    assert len(CORPUS) >= 20
    assert len({case.id for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_bad_delivery_lands_in_quarantine_with_its_reason(case: Bad, warehouse, client, landing, caplog):
    name = f"responses_{case.id}.csv"
    case.write(landing / name)
    original = (landing / name).read_bytes()

    with caplog.at_level(logging.INFO):
        result = responses.ingest_file(warehouse, client, name, run_id="manual__corpus", as_of=AS_OF)

    assert case.reason in result["reasons"], result["reasons"]
    assert result["rows_total"] == result["rows_loaded"] + result["rows_quarantined"] + result["rows_suppressed"]
    assert list(landing.iterdir()) == [], "R10: handled files leave the landing zone"
    with warehouse.connect() as conn:
        loaded = conn.execute(sa.text("SELECT count(*) FROM respondents")).scalar()
        [record] = conn.execute(sa.text("SELECT * FROM deliveries")).mappings().all()
        held = conn.execute(sa.text("SELECT kind, path, reason_code, rows FROM quarantine_records")).mappings().all()
    assert loaded == result["rows_loaded"]
    assert (record["status"], record["rows_total"], record["rows_quarantined"]) == (
        result["status"], result["rows_total"], result["rows_quarantined"]
    )  # fmt: skip
    quarantined = settings.kcm_home() / "quarantine"
    if case.whole_file:
        assert (result["status"], result["reasons"], result["rows_loaded"]) == ("quarantined", {case.reason: 1}, 0)
        assert result["rows_quarantined"] == result["rows_total"]
        [item] = held
        assert (item["kind"], item["reason_code"]) == ("file", case.reason)
        kept = quarantined / item["path"]
        assert kept.read_bytes() == original, "the whole file is kept as delivered"
        reason = json.loads(kept.with_name(kept.name + ".reason.json").read_text(encoding="utf-8"))
        assert (reason["file"], reason["reason_code"]) == (name, case.reason)
    else:
        assert result["rows_quarantined"] == case.bad_records
        assert result["rows_loaded"] == result["rows_total"] - case.bad_records > 0
        [item] = held
        assert (item["kind"], item["rows"]) == ("rows", case.bad_records)
        with (quarantined / item["path"]).open(encoding="utf-8", newline="") as handle:
            kept = list(csv.reader(handle))
        assert len(kept) == 1 + case.bad_records, "header plus every bad record, with its cells"
        assert all(case.reason in row[1].split(";") for row in kept[1:])
    for planted in (PLANTED, PLANTED.lower()):
        assert planted not in quarantine_texts(), "reason files carry no values"
        assert planted not in caplog.text and planted not in json.dumps(result)
        assert planted not in record["reasons"] and all(planted not in str(dict(i)) for i in held)


def test_nothing_arrives_for_a_client_that_asked_to_destroy_all_its_data(clients_dir, warehouse, landing):
    write_client(clients_dir, CLIENT, assignments=ASSIGNMENTS, destruction_requested_on="2026-11-15")
    client = config.get_client(CLIENT)
    sync.apply_config(warehouse, client)
    write_responses_csv(landing / "responses_na_vernietiging.csv", delivery())

    result = responses.ingest_file(warehouse, client, "responses_na_vernietiging.csv", run_id="r", as_of=AS_OF)

    assert (result["status"], result["reasons"], result["rows_quarantined"]) == (
        "quarantined",
        {"client_destroyed": 1},
        4,
    )
    with warehouse.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM respondents")).scalar() == 0
    assert list(landing.iterdir()) == []


def test_a_file_of_only_bad_records_is_quarantined_row_by_row(warehouse, client, landing):
    rows = [person | {"assignment_id": "onbekend"} for person in delivery()]
    write_responses_csv(landing / "responses_alles_fout.csv", rows)

    result = responses.ingest_file(warehouse, client, "responses_alles_fout.csv", run_id="r", as_of=AS_OF)

    assert (result["status"], result["rows_total"], result["rows_loaded"], result["rows_quarantined"]) == (
        "quarantined", 4, 0, 4
    )  # fmt: skip
    assert result["reasons"] == {"unknown_assignment": 4}
