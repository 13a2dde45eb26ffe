"""DAG integrity: the factory builds one set of DAGs per valid client, a placeholder per broken one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from include import config
from tests.factories import write_client

DAGS = Path(__file__).resolve().parent.parent / "dags"


def _bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_every_project_client_gets_its_dags_without_import_errors():
    bag = _bag()
    assert bag.import_errors == {}
    clients, _ = config.load_clients()
    for client in clients:
        dag = bag.dags.get(f"kcm_ingest__{client.client_id}")
        assert dag is not None
        assert f"client:{client.client_id}" in dag.tags
        assert dag.max_active_runs == 1
        assert dag.catchup is False
        assert dag.start_date.tzinfo is not None
        assert dag.doc_md and client.name in dag.doc_md
        assert dag.timetable.expression == client.ingest_schedule
        assert str(dag.timetable.timezone) in ("Europe/Amsterdam", "Timezone('Europe/Amsterdam')")
        for task in dag.tasks:
            assert task.owner == "kcm-data"
            assert task.retries >= 1


def test_every_client_run_takes_the_clients_lease_first_and_gives_it_back_last(clients_dir):
    """Design §6: a client's ingest and nightly runs never run steps at the same time."""
    write_client(clients_dir, "acme")
    bag = _bag()
    for dag_id in ("kcm_ingest__acme", "kcm_retention__acme"):
        dag = bag.dags[dag_id]
        assert [t.task_id for t in dag.tasks if not t.upstream_task_ids] == ["acquire_lease"], dag_id
        assert [t.task_id for t in dag.tasks if not t.downstream_task_ids] == ["release_lease"], dag_id
        acquire, release = dag.get_task("acquire_lease"), dag.get_task("release_lease")
        # Waits without holding a worker slot; a setup, so clearing a step in the UI takes the lease again.
        assert acquire.mode == "reschedule" and acquire.is_setup and acquire.client_id == "acme"
        # Runs whatever happened before it, as a teardown: the run's state stays that of its steps.
        assert release.trigger_rule == "all_done" and release.is_teardown and release.client_id == "acme"
        steps = set(dag.task_ids) - {"acquire_lease", "release_lease"}
        assert steps <= acquire.get_flat_relative_ids(upstream=False)
        assert steps <= release.get_flat_relative_ids(upstream=True)
        assert all(dag.get_task(step).client_id == "acme" for step in steps)


def test_dag_ids_follow_the_contract_and_are_sorted(clients_dir):
    for client_id in ("zeeland", "acme", "bakker"):
        write_client(clients_dir, client_id)
    bag = _bag()
    ingest = [d for d in bag.dag_ids if d.startswith("kcm_ingest__")]
    assert sorted(ingest) == ["kcm_ingest__acme", "kcm_ingest__bakker", "kcm_ingest__zeeland"]


def test_broken_config_becomes_a_visible_placeholder_and_hides_no_one(clients_dir):
    write_client(clients_dir, "acme")
    write_client(clients_dir, "swiss_bank", country="CH")
    bag = _bag()
    assert bag.import_errors == {}
    assert "kcm_ingest__acme" in bag.dag_ids
    assert not any(d.endswith("swiss_bank") and d.startswith("kcm_ingest") for d in bag.dag_ids)
    placeholder = bag.dags.get("kcm_config_error__swiss_bank")
    assert "config-error" in placeholder.tags
    assert "swiss_bank.yaml" in placeholder.doc_md and "'country'" in placeholder.doc_md
    assert placeholder.schedule is None


@pytest.mark.airflow
def test_placeholder_fails_when_triggered(clients_dir, kcm_home, run_dag):
    write_client(clients_dir, "swiss_bank", country="CH")
    dag_run = run_dag("kcm_config_error__swiss_bank", dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc))
    assert dag_run.state == "failed"


def test_parsing_touches_no_database_and_no_data_folder(clients_dir, tmp_path, monkeypatch):
    import sqlalchemy

    write_client(clients_dir, "acme")
    home = tmp_path / "never_created"
    monkeypatch.setenv("KCM_HOME", str(home))
    monkeypatch.setenv("AIRFLOW_CONN_KCM_WAREHOUSE", "postgresql://nobody@127.0.0.1:1/none")

    def refuse(*args, **kwargs):
        raise AssertionError("a DAG file opened a database connection at parse time")

    monkeypatch.setattr(sqlalchemy, "create_engine", refuse)
    monkeypatch.setattr("include.warehouse.engine", refuse)
    bag = _bag()
    assert bag.import_errors == {}
    assert "kcm_ingest__acme" in bag.dag_ids
    assert not home.exists()


def test_a_task_run_builds_only_its_own_dag(clients_dir, monkeypatch):
    for client_id in ("acme", "bakker"):
        write_client(clients_dir, client_id)
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "kcm_ingest__bakker")
    bag = _bag()
    per_client = [d for d in bag.dag_ids if bag.dags[d].fileloc.endswith("kcm_clients.py")]
    assert per_client == ["kcm_ingest__bakker"]
