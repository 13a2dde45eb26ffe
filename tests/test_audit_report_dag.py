"""kcm_audit_report: the monthly auditor reports and the register, through Airflow's runner."""

from __future__ import annotations

import json

import pytest

from include import settings
from tests.factories import write_client


@pytest.mark.airflow
def test_the_first_of_the_month_writes_last_months_report_per_client_and_the_register(warehouse, clients_dir, run_dag):
    write_client(clients_dir, "acme")
    write_client(clients_dir, "bakker", country="BE")

    dag_run = run_dag("kcm_audit_report", "2027-02-01T03:00:00+00:00")

    assert dag_run.state == "success"
    reports = settings.reports_dir()
    for client_id in ("acme", "bakker"):
        monthly = reports / client_id / "monthly"
        assert (monthly / "2027-01.html").exists()
        report = json.loads((monthly / "2027-01.json").read_text())
        assert report["month"] == "2027-01"
        assert {a["assignment_id"] for a in report["assignments"]} >= {"a1", "a2"}
    register = (reports / "register.md").read_text()
    assert "acme" in register and "bakker" in register
