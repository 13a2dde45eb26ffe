"""Arrow reads a delivery the way Python's csv module does, and a file Arrow gives up on half-way is read
again from the start without loading anyone twice (design §4: nothing lost, nothing silently dropped)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from include import config, identifiers, settings, sync
from include.ingest import contract, responses
from include.sample_data import RESPONSE_COLUMNS, fake_respondents, write_responses_csv
from tests.factories import write_client

AS_OF = dt.date(2026, 11, 20)
CLIENT = "testclient"


@pytest.fixture
def client(clients_dir, warehouse):
    write_client(clients_dir, CLIENT)
    client = config.get_client(CLIENT)
    sync.apply_config(warehouse, client)
    return client


@pytest.fixture
def landing(kcm_home) -> Path:
    folder = settings.landing_dir(CLIENT)
    folder.mkdir(parents=True)
    return folder


def people(n: int, seed: int = 1) -> list[dict[str, str]]:
    return fake_respondents(n, assignment_ids=["a1", "a2"], seed=seed, as_of=AS_OF)


def read_both(path: Path, size: int = 3) -> tuple[list, list]:
    """Every chunk's frame and delivered cells, as Arrow and as the csv module read them."""
    cells, delimiter = responses._read_header(path)
    header = contract.match_header(cells)
    read = []
    for reader in (responses._arrow_chunks, responses._python_chunks):
        chunks = list(reader(path, delimiter, header, len(cells), size))
        read.append([(chunk.frame.to_dict("index"), chunk.cells(list(chunk.frame.index))) for chunk in chunks])
    return read[0], read[1]


def test_arrow_reads_quoted_newlines_doubled_quotes_blank_lines_and_excel_exports_as_csv_does(tmp_path):
    delivered = people(7)
    delivered[0]["answer_text"] = 'Eerste regel;\r\ntweede "regel", met "aanhalingstekens"'
    delivered[1]["last_name"] = "van 't Hof"
    delivered[2]["first_name"] = "  Zoë  "
    delivered[3]["city"] = "\u3000Den Haag\x1f"  # Unicode whitespace that str.strip() removes
    for options in ({}, {"delimiter": ";", "bom": True}):
        path = write_responses_csv(tmp_path / "responses.csv", delivered, **options)
        # Blank lines under the header and at the end: no records, and no record numbers either.
        path.write_bytes(path.read_bytes().replace(b"\r\n", b"\r\n\r\n", 1) + b"\r\n\r\n")

        by_arrow, by_csv = read_both(path)

        assert by_arrow == by_csv
        records = {number: values for frame, _cells in by_arrow for number, values in frame.items()}
        assert list(records) == list(range(1, 8))
        assert records[1]["answer_text"] == delivered[0]["answer_text"]
        assert (records[3]["first_name"], records[4]["city"]) == ("Zoë", "Den Haag")


def test_a_record_of_another_width_leaves_the_file_to_the_csv_module(tmp_path):
    path = tmp_path / "responses.csv"
    lines = [",".join(RESPONSE_COLUMNS), ",".join(["a1", "R1", "2026-11-01T10:00:00"] + [""] * 21), "a1,R2"]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    cells, delimiter = responses._read_header(path)

    with pytest.raises(responses._NotPlain):
        list(responses._arrow_chunks(path, delimiter, contract.match_header(cells), len(cells), 10))


def test_a_cell_at_the_csv_field_limit_after_loaded_chunks_loads_nobody_twice(warehouse, client, landing):
    delivered = people(15, seed=7)
    # Exactly at csv's field limit: the csv module reads it, Arrow's reader leaves it to the csv module
    # after three chunks were loaded already; those loads are taken back and the file read again.
    delivered[12].update(answer_text="x" * 131_072, responded_at=delivered[12]["invited_at"], nps="7")
    write_responses_csv(landing / "responses_lang.csv", delivered)

    result = responses.ingest_file(warehouse, client, "responses_lang.csv", run_id="t", as_of=AS_OF, chunk_records=4)

    assert (result["rows_loaded"], result["rows_quarantined"], result["reasons"]) == (14, 1, {"answer_text:length": 1})
    with warehouse.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM respondents")).scalar() == 14


def test_e_mail_addresses_are_lower_cased_in_bulk_as_python_lower_cases_one():
    delivered = ["İnci@voorbeeld.nl", "ΟΔΥΣΣΕΑΣ@voorbeeld.gr", "Jan@Voorbeeld.NL"]

    at_once = identifiers.normalise_emails(pd.Series(delivered, dtype="str")).tolist()

    assert at_once == [identifiers.normalise_email(value) for value in delivered]
