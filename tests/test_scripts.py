"""The operator scripts behind `make check-config`, `make verify-audit` and `make demo`."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from include import audit
from scripts import demo
from tests.factories import write_client

ROOT = demo.PROJECT_ROOT


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    """Run `python -m scripts.<name>` from the project root, as the Makefile does."""
    return subprocess.run([sys.executable, "-m", f"scripts.{name}", *args], cwd=ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=120)  # fmt: skip


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


@pytest.mark.integration
@pytest.mark.airflow
def test_make_demo_ingests_a_broken_delivery_and_explains_what_it_quarantined(
    airflow_db, tmp_path, clients_dir, monkeypatch
):
    write_client(clients_dir, "acme")
    monkeypatch.setenv("KCM_HOME", str(tmp_path / "kcm_home"))
    monkeypatch.setenv("KCM_DEMO_LOG_DIR", str(tmp_path / "logs"))
    result = _script("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Running kcm_ingest__acme for 2026-11-20 ... success" in result.stdout
    assert "== acme: ingest succeeded" in result.stdout
    recordings = re.search(r"Delivery for acme: .*?, (\d+) recordings,", result.stdout).group(1)
    for expected in (
        "1 x email:format",
        "1 x nps:range",
        "1 x unknown_assignment",
        "2 x duplicate_key",
        f"recordings stored:   {recordings}\n",
        "files quarantined:   5",
        ": encoding",
        ": empty",
        ": missing_columns",
    ):
        assert expected in result.stdout
    assert (tmp_path / "logs" / "kcm_ingest__acme.log").exists()
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'kcm_home' / 'warehouse.db'}")
    with eng.connect() as conn:
        people = conn.execute(sa.text("SELECT email, last_name, phone FROM respondents")).all()
    eng.dispose()
    assert len(people) > 100
    shown = result.stdout + result.stderr
    assert not [value for person in people for value in person if value and value in shown]
