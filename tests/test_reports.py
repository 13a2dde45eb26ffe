"""R11/R12 evidence: the nightly and monthly reports hold the numbers of the run an auditor checks,
and none of the personal values that were ever in the warehouse."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
import sqlalchemy as sa

from include import proof, reports, settings
from tests.retention_night import AS_OF, ASSIGNMENTS, PAST_TERM, client_config, populated

ON_TIME = "najaar-2026"


def leaked(planted: set[str]) -> list[str]:
    """Every planted value found in any file under KCM_HOME/reports (reports, GX results, Data Docs)."""
    found = []
    for path in settings.reports_dir().rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            found += [f"{path.name}: {value}" for value in planted if value in text]
    return found


@pytest.fixture
def night(warehouse, clients_dir):
    state = populated(warehouse, client_config(clients_dir))
    state.run()
    return state


def test_nightly_report_holds_the_numbers_of_the_night_and_no_personal_data(night):
    summary = proof.prove(night.eng, night.client, night.as_of, night.run_id)

    report = json.loads(open(summary["report_json"], encoding="utf-8").read())
    assert report["passed"] is True
    assert report["as_of"] == "2027-03-01"
    assert report["run_id"] == night.run_id
    assert report["night"]["anonymised_respondents"] == night.summary["anonymised_respondents"] > 0
    assert report["night"]["deleted_non_respondents"] == night.summary["deleted_non_respondents"] == 2
    assert report["night"]["destroyed_respondents"] == night.summary["destroyed_respondents"] == 3
    assert report["night"]["rules"]["R2"]["files"] == {"recording": 1}
    assert len(report["expectations"]) == summary["expectations"]
    assert all(e["observed"] == 0 and e["passed"] for e in report["expectations"])
    assert {r["rule"] for r in report["rules"]} >= {"R2", "R3", "R4", "R9", "R10", "R11", "R12"}
    with night.eng.connect() as conn:
        head = conn.execute(sa.text("SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1")).scalar_one()
    assert report["audit_chain"]["proof_event_hash"] == head
    assert report["audit_chain"]["verified"] is True

    html = open(summary["report_html"], encoding="utf-8").read()
    assert "Passed: all" in html and head in html and "R2 respondents.email" in html
    assert "validations" in summary["data_docs"] and summary["data_docs"].endswith(".html")
    assert night.planted and leaked(night.planted) == []


def test_failed_night_report_names_rule_table_and_count_but_not_the_planted_value(night, caplog):
    caplog.set_level(logging.DEBUG)
    with night.eng.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE respondents SET email = :email WHERE id = (SELECT min(id) FROM respondents "
                "WHERE assignment_id = :a AND anonymised_on IS NOT NULL)"
            ),
            {"email": night.remember("teruggekomen.vd.berg.4711@example.nl"), "a": PAST_TERM},
        )

    with pytest.raises(proof.ProofFailed) as caught:
        proof.prove(night.eng, night.client, night.as_of, night.run_id)

    report = json.loads(open(caught.value.summary["report_json"], encoding="utf-8").read())
    assert report["failed"] == [
        {"check": "R2 respondents.email", "rule": "R2", "table_or_store": "respondents", "count": 1}
    ]
    html = open(caught.value.summary["report_html"], encoding="utf-8").read()
    assert "Failed: 1 of" in html
    assert "teruggekomen" not in str(caught.value)
    assert leaked(night.planted) == []
    assert "R2 respondents.email: 1" in caplog.text and report["evidence"]["report_html"] in caplog.text
    assert [value for value in night.planted if value in caplog.text] == []


def test_monthly_report_shows_per_assignment_whether_its_term_was_kept(warehouse, clients_dir):
    on_time = {
        "id": ON_TIME,
        "title": "Najaarsmeting 2026",
        "completed_on": "2026-08-28",
        "destruction_requested_on": None,
    }
    client = client_config(clients_dir, assignments=[*ASSIGNMENTS, on_time])  # term ends 28 February 2027
    night = populated(warehouse, client)
    for day in range(5):
        night.person(ON_TIME, invited_on=dt.date(2026, 8, 10 + day))
    for as_of in (dt.date(2027, 2, 27), dt.date(2027, 2, 28), AS_OF):
        run_id = f"scheduled__{as_of.isoformat()}"
        night.run(as_of, run_id)
        proof.prove(night.eng, client, as_of, run_id)

    written = reports.monthly_report(night.eng, client.client_id, 2027, 2)

    report = json.loads(open(written["json"], encoding="utf-8").read())
    rows = {a["assignment_id"]: a for a in report["assignments"]}
    assert rows[ON_TIME]["term_ends_on"] == "2027-02-28"
    assert rows[ON_TIME]["anonymised_on"] == "2027-02-28"
    assert rows[ON_TIME]["on_time"] is True
    assert rows[ON_TIME]["audit_event"]["action"] == "assignment_anonymised"
    assert rows[PAST_TERM]["on_time"] is False  # its term ended 30 December; first night here was 27 February
    assert rows[PAST_TERM]["days_late"] == 59
    assert rows["pilot-2026"]["outcome"].startswith("destroyed on 2027-02-27")
    assert rows["lopend-2027"]["on_time"] is None
    nights = {n["as_of"]: n for n in report["nights"]}
    assert nights["2027-02-27"]["proof"] == nights["2027-02-28"]["proof"] == "passed"
    assert nights["2027-02-28"]["rows"]["respondents"] == 5
    assert nights["2027-02-01"]["proof"] == "no proof recorded"
    assert report["totals"]["nights_passed"] == 2
    assert report["audit_chain"]["verified"] is True
    html = open(written["html"], encoding="utf-8").read()
    assert ON_TIME in html and "yes" in html and "59 day(s) late" in html
    assert leaked(night.planted) == []


def test_monthly_report_of_a_client_never_run_says_so(warehouse):
    with pytest.raises(KeyError, match="not in the warehouse"):
        reports.monthly_report(warehouse, "onbekend", 2027, 3)
