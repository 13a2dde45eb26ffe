"""The operator scripts behind `make check-config`, `make verify-audit` and `make demo`."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from include import audit
from scripts import demo
from tests.factories import write_client

ROOT = demo.PROJECT_ROOT


def _script(name: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run `python -m scripts.<name>` from the project root, as the Makefile does."""
    return subprocess.run([sys.executable, "-m", f"scripts.{name}", *args], cwd=ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_check_config_passes_on_the_projects_own_clients(monkeypatch):
    monkeypatch.delenv("KCM_CLIENTS_DIR", raising=False)
    result = _script("check_config")
    assert result.returncode == 0, result.stderr
    for client_id in ("acme_energie", "flandria_telecom", "kcm", "woonstad_brabant"):
        assert f"OK    {client_id}:" in result.stdout


def test_check_config_fails_ci_on_a_client_outside_the_eu_and_says_how_to_fix_it(tmp_path):
    folder = tmp_path / "clients"
    folder.mkdir()
    write_client(folder, "acme")
    bad = write_client(folder, "globex_us", country="US")
    result = _script("check_config", str(folder))
    assert result.returncode == 1
    assert "OK    acme:" in result.stdout, "one bad config does not hide the others"
    assert str(bad) in result.stderr
    assert "field 'country'" in result.stderr and "not an EU member state" in result.stderr
    assert "fix: use the ISO 3166 alpha-2 code of an EU member state" in result.stderr


def test_check_config_fails_on_a_folder_that_does_not_exist(tmp_path):
    result = _script("check_config", str(tmp_path / "nergens"))
    assert result.returncode == 1
    assert "no such folder" in result.stderr


def _record_some_work(eng) -> None:
    for rule, action in (("R2", "anonymise"), ("R3", "purge_non_respondents"), ("R11", "prove")):
        audit.append(eng, rule=rule, action=action, client_id="acme", counts={"rows": 3})


def test_verify_audit_reports_an_intact_trail(warehouse):
    _record_some_work(warehouse)
    result = _script("verify_audit")
    assert result.returncode == 0, result.stderr
    assert "audit events: 3" in result.stdout and "chain intact" in result.stdout


def test_verify_audit_fails_after_someone_with_ddl_rights_edits_an_event(warehouse):
    _record_some_work(warehouse)
    with warehouse.begin() as conn:
        # An attacker with DDL rights removes the append-only guard first, then hides a purge count.
        if warehouse.dialect.name == "postgresql":
            conn.execute(sa.text("DROP TRIGGER audit_events_append_only ON audit_events"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        conn.execute(sa.text("UPDATE audit_events SET counts = :c WHERE seq = 2"), {"c": '{"rows": 0}'})
    result = _script("verify_audit")
    assert result.returncode == 1
    assert "event 2: content does not match its hash (the event was edited)" in result.stderr


def test_demo_refuses_to_wipe_a_data_root_it_did_not_create(tmp_path, monkeypatch):
    home = tmp_path / "productie"
    home.mkdir()
    (home / "warehouse.db").write_bytes(b"echte gegevens")
    monkeypatch.setenv("KCM_HOME", str(home))
    with pytest.raises(demo.DemoError, match="holds data the demo did not create"):
        demo.reset_kcm_home()
    assert (home / "warehouse.db").exists()


def test_demo_wipes_its_own_earlier_data_root(tmp_path, monkeypatch):
    home = tmp_path / "demo_home"
    monkeypatch.setenv("KCM_HOME", str(home))
    demo.reset_kcm_home()
    (home / "landing").mkdir()
    demo.reset_kcm_home()
    assert sorted(p.name for p in home.iterdir()) == [demo.DEMO_MARKER]


def test_demo_refuses_to_run_against_a_configured_warehouse(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KCM_WAREHOUSE", "postgresql://kcm@warehouse.example/kcm")
    with pytest.raises(demo.DemoError, match="AIRFLOW_CONN_KCM_WAREHOUSE is set"):
        demo.prepare_environment()


def test_demo_summary_names_delivery_files_and_reasons_but_never_a_recording(warehouse):
    from include.ingest import deliveries

    with warehouse.begin() as conn:
        deliveries.record(conn, client_id="acme", file_name="responses_2026_11.csv", file_kind="responses",
                          sha256="a" * 64, size_bytes=900, status="partially_loaded", run_id="r", rows_total=10,
                          rows_loaded=8, rows_quarantined=2, reasons={"email:format": 1, "nps:range": 1})  # fmt: skip
        empty = deliveries.record(conn, client_id="acme", file_name="responses_leeg.csv", file_kind="responses",
                                  sha256="b" * 64, size_bytes=0, status="quarantined", run_id="r",
                                  reasons={"empty": 1})  # fmt: skip
        wav = deliveries.record(conn, client_id="acme", file_name="jansen_0612345678.wav", file_kind="recording",
                                sha256="c" * 64, size_bytes=40, status="quarantined", run_id="r")  # fmt: skip
        for delivery_id, code in ((empty, "empty"), (wav, "not_riff")):
            conn.execute(
                sa.text("INSERT INTO quarantine_records (client_id, delivery_id, kind, path, reason_code, reason, "
                        "created_on, purge_on) VALUES ('acme', :d, 'file', :p, :c, :c, '2026-11-20', '2026-12-20')"),
                {"d": delivery_id, "p": f"acme/{code}", "c": code},
            )  # fmt: skip
    text = "\n".join(demo.render_summary("acme", True, demo.delivery_outcome(warehouse, "acme"), None))
    assert "rows loaded:         8 of 10" in text
    assert "1 x email:format" in text and "1 x nps:range" in text
    assert "responses_leeg.csv: empty" in text
    assert "a recording file: not_riff" in text
    assert "jansen" not in text and "0612345678" not in text, "a WAV name from a manifest is personal data"


def test_demo_runs_a_night_exactly_on_the_days_something_falls_due(warehouse, clients_dir, tmp_path):
    """The demo skips quiet nights; run every night instead and only the planned ones change anything."""
    from include import retention
    from scripts import demo_year
    from tests.test_retention_world import load_people, person, quarantine_a_file, sync_client

    client = sync_client(warehouse, clients_dir, "acme", assignments=[
        # Term ends 30 December 2026 (R2).
        {"id": "a1", "title": "Klanttevredenheid 2026", "completed_on": "2026-06-30", "destruction_requested_on": None},
        {"id": "a2", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": None},
        # The client asked for its destruction on 8 January 2027 (R4).
        {"id": "a3", "title": "Pilot", "completed_on": None, "destruction_requested_on": "2027-01-08"},
    ])  # fmt: skip
    load_people(warehouse, "acme", [
        person("a1", invited_at="2026-06-10T10:00:00+02:00", responded_at="2026-06-11T09:00:00+02:00"),
        person("a2", invited_at="2026-09-01T10:00:00+02:00"),  # due 1 November: overdue on the first night
        person("a2", invited_at="2026-10-05T23:30:00+02:00"),  # due 5 December (R3)
        person("a2", invited_at="2026-10-05T08:00:00+02:00"),  # the same day
        person("a2", invited_at="2026-11-03T09:00:00+01:00", responded_at="2026-11-04T09:00:00+01:00"),
        person("a3", invited_at="2026-11-20T09:00:00+01:00", responded_at="2026-11-21T09:00:00+01:00"),
    ])  # fmt: skip
    quarantine_a_file(warehouse, tmp_path, "acme", on=dt.date(2026, 11, 20), content="kapot\n")  # purged 20 December

    first = dt.date(2026, 12, 1)
    planned = demo_year.due_days(warehouse, client, start=first)
    assert sorted(planned) == [dt.date(2026, 12, d) for d in (1, 5, 20, 30)] + [dt.date(2027, 1, 8)]

    changed = set()
    for offset in range(45):
        day = first + dt.timedelta(days=offset)
        summary = retention.run_night(warehouse, client, day, run_id=f"demo_{day}",
                                      scrubber=lambda items: ["<scrubbed>" for _ in items])  # fmt: skip
        if sum(summary["rows"].get(t, 0) for t in ("respondents", "responses", "recordings", "quarantine_records")):
            changed.add(day)
    assert changed == planned


def _personal_values(landing: Path) -> set[str]:
    """Every personal value of the demo's deliveries: cells of the responses CSVs, WAV names of the manifests."""
    import csv

    columns = ("respondent_ref", "first_name", "last_name", "email", "phone", "street", "postcode", "city",
               "customer_number", "transaction_id", "answer_text", "ip_address", "user_agent", "file_name")  # fmt: skip
    values: set[str] = set()
    for path in landing.rglob("*.csv"):
        text = path.read_bytes().decode("utf-8-sig", errors="ignore")
        header = text.split("\n", 1)[0]
        for row in csv.DictReader(text.splitlines(keepends=True), delimiter=";" if ";" in header else ","):
            values |= {row.get(c) or "" for c in columns}
            values.add(f"{row.get('first_name')} {row.get('last_name')}")
    return {v for v in values if len(v) >= 6}


@pytest.mark.integration
@pytest.mark.airflow
def test_quick_demo_ingests_runs_nights_with_a_passing_proof_answers_requests_and_shows_no_personal_data(
    airflow_db, tmp_path, clients_dir, monkeypatch
):
    # Completed in May with a 6-month term: the first night (1 December) anonymises it.
    write_client(clients_dir, "acme", assignments=[
        {"id": "a1", "title": "Klanttevredenheid 2026", "completed_on": "2026-05-31", "destruction_requested_on": None},
        {"id": "a2", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": None},
    ])  # fmt: skip
    # The same deliveries the demo writes (same seeds), to know every value that must never be shown.
    monkeypatch.setenv("KCM_HOME", str(tmp_path / "copy"))
    demo.generate_deliveries(demo.DEMO_DAY)
    planted = _personal_values(tmp_path / "copy" / "landing")
    assert len(planted) > 500
    home, logs, secret = tmp_path / "kcm_home", tmp_path / "logs", tmp_path / "secret"
    monkeypatch.setenv("KCM_HOME", str(home))
    monkeypatch.setenv("KCM_DEMO_LOG_DIR", str(logs))
    monkeypatch.setenv("KCM_DEMO_SECRET_FILE", str(secret))
    monkeypatch.setenv("KCM_DEMO_NIGHTS", "3")

    result = _script("demo", timeout=600)

    shown = result.stdout + result.stderr
    assert result.returncode == 0, shown
    # The delivery, ingested through Airflow's runner, explained.
    assert "Running kcm_ingest__acme for 2026-11-20 ... success" in result.stdout
    assert "== acme: ingest succeeded" in result.stdout
    recordings = re.search(r"Delivery for acme: .*?, (\d+) recordings,", result.stdout).group(1)
    for expected in ("1 x email:format", "1 x nps:range", "1 x unknown_assignment", "2 x duplicate_key",
                     f"recordings stored:   {recordings}\n", "files quarantined:   5", ": encoding", ": empty",
                     ": missing_columns"):  # fmt: skip
        assert expected in result.stdout
    # Three nights of kcm_retention__acme, each proven; the first anonymised a1 at its term and purged R3.
    assert "== acme: 3 nights run through Airflow (kcm_retention__acme), proof passed on 3" in result.stdout
    first = re.search(r"^   2026-12-01 +(\d+) +(\d+) .* passed +R2 a1 anonymised$", result.stdout, re.M)
    assert first, result.stdout
    assert int(first.group(1)) > 0 and int(first.group(2)) > 0, "respondents anonymised, non-respondents deleted"
    # One request of each type, answered; the night after proves the erased and objecting people gone.
    for request_type in ("access", "export", "rectification", "erasure", "objection"):
        assert re.search(rf"^   {request_type} +sr-20261201-\w+ +done +\(due 2027-01-01\) +people matched: 1;",
                         result.stdout, re.M), request_type  # fmt: skip
    assert "2026-12-02 proved them gone for acme: R6 erased_present 0, R7 suppressed_present 0" in result.stdout
    assert "hash chain intact" in result.stdout
    assert "Demo finished" in result.stdout
    reports = home / "reports"
    for report in ("acme/nightly/2026-12-01.html", "acme/nightly/2026-12-02.json", "acme/monthly/2026-12.html",
                   "register.html"):  # fmt: skip
        assert (reports / report).is_file(), report
    # No personal value in what the demo shows, the evidence it writes or Airflow's output it keeps.
    assert not [v for v in planted if v in shown]
    evidence = [p for p in [*reports.rglob("*.html"), *reports.rglob("*.json"), *logs.glob("*.log")]
                if "/gx/" not in p.as_posix()]  # fmt: skip
    leaks = {p.name for p in evidence if any(v in p.read_text(encoding="utf-8", errors="replace") for v in planted)}
    assert not leaks
    # The demo's own suppression secret: readable by its owner only, never shown.
    assert secret.stat().st_mode & 0o077 == 0
    assert secret.read_text().strip() not in shown
