"""The nightly retention DAG as the data team and an auditor meet it: one per client at 02:00 Amsterdam,
catching up missed nights, run end to end through Airflow's own runner; no personal value in any log,
XCom, audit event or report; a tampered audit trail fails the night."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from include import retention, settings
from tests import airflow_metadata
from tests.factories import write_client
from tests.test_retention_world import add_recording, load_people, person, quarantine_a_file, rows, scalar, sync_client

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags"
TASKS = [
    "acquire_lease", "sync_config", "finish_deletions", "destroy_requested", "delete_non_respondents",
    "anonymise_due", "enforce_k_anonymity", "purge_expired_files", "vacuum_touched", "verify_audit", "prove",
    "release_lease",
]  # fmt: skip


def _bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_every_client_gets_a_nightly_retention_dag_at_two_in_amsterdam_catching_up_from_onboarding(clients_dir):
    write_client(clients_dir, "acme")
    write_client(clients_dir, "bakker", onboarded_on="2027-02-15")
    bag = _bag()
    assert bag.import_errors == {}
    acme, bakker = bag.dags["kcm_retention__acme"], bag.dags["kcm_retention__bakker"]
    for dag in (acme, bakker):
        assert dag.timetable.expression == "0 2 * * *"
        assert "Europe/Amsterdam" in str(dag.timetable.timezone)
        assert dag.catchup is True and dag.max_active_runs == 1
        assert [t.task_id for t in _in_order(dag)] == TASKS
        assert all(t.owner == "kcm-data" for t in dag.tasks)
        # Every step is idempotent and retried; a broken audit chain or a failed proof does not mend on retry.
        assert {t.task_id for t in dag.tasks if t.retries < 1} == {"verify_audit", "prove"}
        assert _in_order(dag)[-2].task_id == "prove", "R11: the proof is the last step of every night"
    assert acme.start_date.in_timezone("Europe/Amsterdam").isoformat() == "2026-12-01T00:00:00+01:00"
    assert bakker.start_date.in_timezone("Europe/Amsterdam").isoformat() == "2027-02-15T00:00:00+01:00"


def _in_order(dag):
    task = next(t for t in dag.tasks if not t.upstream_task_ids)
    ordered = [task]
    while task.downstream_list:
        # acquire_lease leads to the first step and to its teardown, release_lease: the steps come first.
        (task,) = [t for t in task.downstream_list if not t.is_teardown] or task.downstream_list
        ordered.append(task)
    return ordered


def test_a_retention_task_run_builds_only_its_own_dag(clients_dir, monkeypatch):
    for client_id in ("acme", "bakker"):
        write_client(clients_dir, client_id)
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "kcm_retention__bakker")
    per_client = [dag_id for dag_id in _bag().dag_ids if "__" in dag_id]
    assert per_client == ["kcm_retention__bakker"]


# --- end to end through Airflow's runner ------------------------------------------------------

PLANTED = {
    "first_name": "Zxqvplanted",
    "last_name": "Qwyxplanted",
    "email": "zxqv.planted@example.org",
    "phone": "06-98765432",
    "street": "Plantedstraat",
    "customer_number": "K99887766",
    "respondent_ref": "PLANTED-REF-0001",
}
PLANTED_ANSWER = (
    "Bel mij, Zxqvplanted Qwyxplanted, op 06-98765432 of mail zxqv.planted@example.org. Wachttijd was lang."
)
PLANTED_NON_RESPONDENT = "Ykpzplanted"


def _world(warehouse, clients_dir, tmp_path):
    """acme: a1 completed 5 December 2026 with a one-month term, so the night of 5 January 2027 anonymises it."""
    assignments = [
        {"id": "a1", "title": "Klantcontact winter", "completed_on": "2026-12-05", "destruction_requested_on": None},
        {"id": "a2", "title": "Lopend onderzoek", "completed_on": None, "destruction_requested_on": None},
    ]
    sync_client(warehouse, clients_dir, retention_months=1, k_anonymity=2, assignments=assignments)
    planted = person(
        "a1",
        invited_at="2026-11-20T10:00:00+01:00",
        responded_at="2026-11-21T10:00:00+01:00",
        answer_text=PLANTED_ANSWER,
        **PLANTED,
    )
    others = [
        person("a1", invited_at="2026-11-20T10:00:00+01:00", responded_at="2026-11-22T10:00:00+01:00") for _ in range(4)
    ]
    gone = person("a2", invited_at="2026-11-01T10:00:00+01:00", first_name=PLANTED_NON_RESPONDENT)
    ids = load_people(warehouse, "acme", [planted, *others, gone])
    add_recording(warehouse, tmp_path, "acme", "a1", ids[PLANTED["respondent_ref"]], seed=1)
    add_recording(warehouse, tmp_path, "acme", "a2", ids[gone["respondent_ref"]], seed=2)
    quarantine_a_file(warehouse, tmp_path, "acme", on=dt.date(2026, 12, 1), content=f"{PLANTED['email']};x\n")


def _everything_airflow_kept() -> bytes:
    """Every byte under AIRFLOW_HOME: task logs, the metadata DB with its XCom, run conf and audit log."""
    return airflow_metadata.everything_kept()


def _failed_task_logs() -> str:
    """The tracebacks in Airflow's task logs, to explain a failed run."""
    home = Path(os.environ["AIRFLOW_HOME"])
    logs = [p.read_text(errors="replace") for p in sorted(home.rglob("*.log")) if p.is_file()]
    return "\n".join(log[-3000:] for log in logs if "Traceback" in log or "ERROR" in log)


def _everything_kcm_reports(warehouse) -> str:
    """Audit events and every file KCM wrote outside the warehouse and recordings (reports, reasons)."""
    events = json.dumps([list(map(str, r)) for r in rows(warehouse, "SELECT * FROM audit_events")])
    home = settings.kcm_home()
    files = "".join(
        p.read_text(errors="replace") for p in home.rglob("*")
        if p.is_file() and p.suffix in (".json", ".txt", ".html", ".log", ".md")
    )  # fmt: skip
    return events + files


@pytest.mark.airflow
def test_nightly_run_through_airflow_anonymises_deletes_and_leaves_no_personal_value_anywhere(
    warehouse, clients_dir, tmp_path, run_dag, capfd, monkeypatch
):
    monkeypatch.setenv("KCM_DEDUCE_CACHE", str(ROOT / "var" / "cache" / "deduce"))
    _world(warehouse, clients_dir, tmp_path)

    dag_run = run_dag("kcm_retention__acme", "2027-01-05")

    assert dag_run.state == "success", _failed_task_logs()
    assert scalar(warehouse, "SELECT status FROM assignments WHERE assignment_id = 'a1'") == "anonymised"
    assert (
        scalar(warehouse, "SELECT count(*) FROM respondents WHERE anonymised_on IS NULL AND assignment_id = 'a1'") == 0
    )
    assert scalar(warehouse, "SELECT count(*) FROM respondents WHERE assignment_id = 'a2'") == 0  # R3
    assert scalar(warehouse, "SELECT count(*) FROM recordings") == 0
    assert not list((settings.kcm_home() / "recordings").rglob("*.wav"))
    assert not list(settings.quarantine_dir("acme").glob("*"))
    answer = scalar(warehouse, "SELECT answer_text FROM responses WHERE answer_text LIKE '%achttijd%'")
    assert answer and "Wachttijd was lang" in answer

    summary = retention.night_summary(warehouse, "acme", dt.date(2027, 1, 5))
    assert summary["anonymised_respondents"] == 5 and summary["deleted_non_respondents"] == 1
    assert summary["recordings_deleted"] == 2 and summary["files"]["quarantine"] >= 1

    captured = capfd.readouterr()
    airflow_kept = _everything_airflow_kept()
    reports = _everything_kcm_reports(warehouse)
    warehouse_now = json.dumps(
        [list(map(str, r)) for t in ("respondents", "responses", "recordings", "quarantine_records")
         for r in rows(warehouse, f"SELECT * FROM {t}")]
    )  # fmt: skip
    for value in [*PLANTED.values(), PLANTED_NON_RESPONDENT, "98765432"]:
        assert value.encode() not in airflow_kept, f"planted {value!r} is in Airflow's logs or metadata"
        assert value not in captured.out + captured.err, f"planted {value!r} was printed"
        assert value not in reports, f"planted {value!r} is in an audit event or report"
        assert value not in warehouse_now, f"planted {value!r} outlived its term in the warehouse"


@pytest.mark.airflow
def test_a_tampered_audit_trail_fails_the_next_night(warehouse, clients_dir, tmp_path, run_dag):
    sync_client(warehouse, clients_dir, assignments=[
        {"id": "a1", "title": "Lopend", "completed_on": None, "destruction_requested_on": None}])  # fmt: skip
    load_people(warehouse, "acme", [person("a1", invited_at="2026-11-01T10:00:00+01:00") for _ in range(3)])
    assert run_dag("kcm_retention__acme", "2027-01-05").state == "success"
    _tamper(
        warehouse,
        "UPDATE audit_events SET counts = '{\"rows\": {\"respondents\": 1}}' WHERE action = 'non_respondents_deleted'",
    )

    dag_run = run_dag("kcm_retention__acme", "2027-01-06")

    assert dag_run.state == "failed", "giving the lease back must not turn a failed night green"
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["verify_audit"] == "failed" and states["vacuum_touched"] == "success"
    assert states["release_lease"] == "success"
    assert scalar(warehouse, "SELECT count(*) FROM client_leases") == 0, "a failed night gives the client's lease back"


# --- R12: the chain detects what the append-only triggers cannot stop -----------------------------


def _tamper(eng, statement: str) -> None:
    """What someone with DDL rights could do: drop the append-only trigger, then change the trail."""
    with eng.begin() as conn:
        if eng.dialect.name == "postgresql":
            conn.execute(sa.text("DROP TRIGGER audit_events_append_only ON audit_events"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_events_no_update"))
            conn.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
        conn.execute(sa.text(statement))


def _night_with_events(warehouse, clients_dir):
    cfg = sync_client(warehouse, clients_dir, assignments=[
        {"id": "a1", "title": "Lopend", "completed_on": None, "destruction_requested_on": None}])  # fmt: skip
    load_people(warehouse, "acme", [person("a1", invited_at=f"2026-{m}T10:00:00+01:00") for m in ("10-01", "11-15")])
    for day in (dt.date(2027, 1, 1), dt.date(2027, 1, 15)):
        retention.run_night(warehouse, cfg, day, run_id=f"scheduled__{day}")
    assert retention.verify_audit(warehouse)["events"] >= 2


def test_an_edited_audit_event_is_detected(warehouse, clients_dir):
    _night_with_events(warehouse, clients_dir)
    _tamper(warehouse, "UPDATE audit_events SET assignment_id = 'a9' WHERE seq = 1")
    with pytest.raises(RuntimeError, match=r"event 1: content does not match its hash"):
        retention.verify_audit(warehouse)


def test_a_deleted_audit_event_is_detected(warehouse, clients_dir):
    _night_with_events(warehouse, clients_dir)
    _tamper(warehouse, "DELETE FROM audit_events WHERE seq = 1")
    with pytest.raises(RuntimeError, match=r"does not follow the event before it"):
        retention.verify_audit(warehouse)
