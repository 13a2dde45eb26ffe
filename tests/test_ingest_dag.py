"""The ingest DAG as the data team runs it: a client's delivery goes through Airflow's own runner, lands in
the warehouse, and not one value from it reaches a task log, XCom, the audit trail or a reason file (R10)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from include import settings
from include.sample_data import fake_respondents, write_responses_csv
from tests import airflow_metadata
from tests.factories import write_client

CLIENT = "plantage"
AS_OF = dt.date(2026, 11, 20)
# Values no code, log format or library would write by itself.
PLANTED = {
    "first_name": "Zxqvplanted",
    "last_name": "Qwyxplanted",
    "email": "zxqv.planted123@voorbeeld.nl",
    "phone": "06-98765431",
    "street": "Plantedsingel",
    "customer_number": "K99887766",
    "respondent_ref": "PLANTED-REF-0001",
    "answer_text": "Zxqvplanted123 vond het gesprek\nprima; bel mij terug.",
}
PLANTED_BAD_ROW = {"last_name": "Vbnmplanted", "email": "vbnm.planted@@voorbeeld"}
PLANTED_HEADERLESS = "Ykpzplanted"


def deliver(landing: Path) -> int:
    """A Faker delivery with one planted person, one planted bad record and one headerless file; returns good rows."""
    people = fake_respondents(30, assignment_ids=["a1", "a2"], seed=20, as_of=AS_OF)
    responder = next(p for p in people if p["responded_at"])
    responder.update(PLANTED)
    people[-1].update(PLANTED_BAD_ROW)
    write_responses_csv(landing / "responses_2026_11_excel.csv", people, delimiter=";", bom=True)
    headerless = fake_respondents(3, assignment_ids=["a2"], seed=21, as_of=AS_OF)
    headerless[0]["last_name"] = PLANTED_HEADERLESS
    write_responses_csv(landing / "responses_zonder_kop.csv", headerless)
    lines = (landing / "responses_zonder_kop.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (landing / "responses_zonder_kop.csv").write_text("".join(lines[1:]), encoding="utf-8")
    return len(people) - 1


def everything_airflow_kept() -> bytes:
    """Every byte under AIRFLOW_HOME: task logs and the metadata DB with its XCom table."""
    return airflow_metadata.everything_kept()


def xcom_values() -> list[str]:
    rows = airflow_metadata.query("SELECT value FROM xcom WHERE dag_id = ?", (f"kcm_ingest__{CLIENT}",))
    return [str(value) for (value,) in rows]


@pytest.mark.airflow
def test_a_delivery_runs_through_airflow_and_no_value_from_it_appears_outside_the_warehouse(
    warehouse, clients_dir, run_dag, capfd, caplog
):
    write_client(clients_dir, CLIENT)
    landing = settings.landing_dir(CLIENT)
    landing.mkdir(parents=True)
    good_rows = deliver(landing)

    dag_run = run_dag(f"kcm_ingest__{CLIENT}", AS_OF.isoformat())

    assert dag_run.state == "success"
    with warehouse.connect() as conn:
        held = conn.execute(sa.text("SELECT count(*) FROM respondents WHERE client_id = :c"), {"c": CLIENT}).scalar()
        planted = conn.execute(
            sa.text("SELECT first_name, email, phone FROM respondents WHERE respondent_ref = :r"),
            {"r": PLANTED["respondent_ref"]},
        ).one()
        trail = json.dumps([list(map(str, row)) for row in conn.execute(sa.text("SELECT * FROM audit_events"))])
        records = json.dumps(
            [list(map(str, row)) for table in ("deliveries", "quarantine_records")
             for row in conn.execute(sa.text(f"SELECT * FROM {table}"))]
        )  # fmt: skip
    assert held == good_rows
    assert tuple(planted) == ("Zxqvplanted", "zxqv.planted123@voorbeeld.nl", "+31698765431")
    assert list(landing.iterdir()) == [], "R10: handled files leave the landing zone"
    assert "ingest_run" in trail and "delivery_quarantined" in trail

    captured = capfd.readouterr()
    # Task logs reach the terminal or pytest's log capture, depending on how logging was set up
    # by whatever ran before in the session: search both.
    printed = captured.out + captured.err + caplog.text
    airflow_kept = everything_airflow_kept()
    xcom = "\n".join(xcom_values())
    reason_files = "".join(p.read_text(encoding="utf-8") for p in settings.kcm_home().rglob("*.reason.json"))
    # Evidence the search looks where the run wrote: the result dicts are in XCom, the log line somewhere.
    assert '"rows_loaded"' in xcom and "responses_zonder_kop.csv" in reason_files
    assert b"rows loaded" in airflow_kept or "rows loaded" in printed

    values = [*PLANTED.values(), *PLANTED_BAD_ROW.values(), PLANTED_HEADERLESS, "98765431", "Zxqvplanted123"]
    for value in values:
        assert value.encode() not in airflow_kept, f"planted {value!r} is in Airflow's logs or metadata"
        assert value not in xcom, f"planted {value!r} is in XCom"
        assert value not in printed, f"planted {value!r} was printed"
        assert value not in reason_files, f"planted {value!r} is in a quarantine reason file"
        assert value not in trail + records, f"planted {value!r} is in the audit trail or a delivery record"
