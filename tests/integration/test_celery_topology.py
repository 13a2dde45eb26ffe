"""The production topology, run for real: scheduler, dag-processor, api-server and a Celery worker.

Fresh PostgreSQL databases for Airflow's metadata and the warehouse, the local Redis
as broker, random secrets. Two sample clients deliver; the data team then drives
everything through the REST API as they would: ingest, an erasure request, and the
nightly retention run, each triggered with POST /api/v2/dags/{id}/dagRuns. The
warehouse, the proof and the Retention view must tell the same story afterwards.
"""

from __future__ import annotations

import json
import os
import uuid

import httpx
import pytest
import sqlalchemy as sa

from tests.integration import scenario
from tests.integration.topology import Topology, create_database, drop_database, overlapping_runs, redis_url

pytestmark = pytest.mark.integration

CLIENTS = ("acme_energie", "flandria_telecom")
RESPONDENTS, RECORDINGS = 40, 4


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """The Celery topology with both sample clients' deliveries waiting in landing/."""
    executor = os.environ.get("KCM_IT_EXECUTOR", "CeleryExecutor")  # LocalExecutor: the same story without workers
    if executor == "CeleryExecutor":
        try:
            import airflow.providers.celery.executors.celery_executor  # noqa: F401
        except ImportError as exc:
            pytest.fail(f"the Celery executor cannot be imported, so no worker could start: {exc!r}")
    root = tmp_path_factory.mktemp("celery-topology")
    clients_dir = root / "clients"
    clients_dir.mkdir()
    days = scenario.calendar()
    metadata_url = create_database("kcm_it_airflow")
    warehouse_url = create_database("kcm_it_warehouse")
    topology = Topology(
        root / "deployment", clients_dir, metadata_url=metadata_url, warehouse_url=warehouse_url, executor=executor
    )
    try:
        clients = {
            "acme_energie": scenario.write_client(clients_dir, scenario.energy_client("acme_energie", days)),
            "flandria_telecom": scenario.write_client(clients_dir, scenario.telecom_client("flandria_telecom", days)),
        }
        delivered = {
            c: scenario.deliver(client, topology.kcm_home, days, respondents=RESPONDENTS, recordings=RECORDINGS)
            for c, client in clients.items()
        }
        with topology:
            topology.airflow("db", "migrate")
            topology.start_api_server()
            topology.start_dag_processor()
            topology.start_scheduler()
            if executor == "CeleryExecutor":
                topology.start_worker(concurrency=4)
            yield (
                topology,
                days,
                clients,
                delivered,
                sa.create_engine(
                    warehouse_url.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=sa.pool.NullPool
                ),
            )
    finally:
        topology.stop()
        _forget_queue(topology.queue)
        drop_database(warehouse_url)
        drop_database(metadata_url)


def _forget_queue(queue: str) -> None:
    """Remove this run's Celery queue from the shared Redis database."""
    import redis

    client = redis.Redis.from_url(redis_url())
    for key in client.scan_iter(match=f"*{queue}*"):
        client.delete(key)
    client.close()


def _scalar(eng, statement: str, **params) -> int:
    with eng.connect() as conn:
        return conn.execute(sa.text(statement), params).scalar_one()


def _by_client(eng, statement: str, **params) -> dict[str, int]:
    with eng.connect() as conn:
        return {row[0]: row[1] for row in conn.execute(sa.text(statement), params)}


def _run_ok(api, runs: list[tuple[str, str]], timeout: float) -> dict:
    finished = api.wait_for_runs(runs, timeout=timeout)
    failed = {key: api.task_states(*key) for key, run in finished.items() if run["state"] != "success"}
    assert not failed, f"runs failed (task states): {json.dumps({' '.join(k): v for k, v in failed.items()}, indent=1)}"
    return finished


def test_ingest_request_and_nightly_run_on_the_celery_topology(deployment):
    topology, days, clients, delivered, eng = deployment
    api = topology.api()
    ingest = {f"kcm_ingest__{c}" for c in CLIENTS}
    retention = {f"kcm_retention__{c}" for c in CLIENTS}
    api.wait_for_dags(ingest | retention | {"kcm_subject_request"}, timeout=180)
    assert api.import_errors() == []

    # 1. Ingest: the run we trigger is the schedule's own tick, so unpausing adds no second run.
    runs = [(f"kcm_ingest__{c}", f"it_ingest_{c}") for c in CLIENTS]
    for dag_id, run_id in runs:
        api.trigger(dag_id, days.ingest_at, run_id=run_id)
        api.unpause(dag_id)
    _run_ok(api, runs, timeout=300)
    loaded = _by_client(eng, "SELECT client_id, count(*) FROM respondents GROUP BY client_id")
    assert loaded == {c: delivered[c]["rows"] for c in CLIENTS}
    stored = _by_client(eng, "SELECT client_id, count(*) FROM recordings WHERE state = 'stored' GROUP BY client_id")
    assert stored == {c: delivered[c]["recordings"] for c in CLIENTS}
    assert sorted(p.name for p in (topology.kcm_home / "landing").rglob("*") if p.is_file()) == []
    for dag_id, _ in runs:
        assert [r["dag_run_id"] for r in api.runs_of(dag_id)] == [f"it_ingest_{dag_id.split('__')[1]}"]

    # 2. A person of acme_energie asks for erasure (R6); the e-mail never leaves this test.
    with eng.connect() as conn:
        email = conn.execute(
            sa.text(
                "SELECT email FROM respondents WHERE client_id = 'acme_energie' AND assignment_id = 'ktv_running' "
                "AND responded_at IS NOT NULL AND email IS NOT NULL ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    person = "SELECT count(*) FROM respondents WHERE lower(email) = lower(:email)"
    assert _scalar(eng, person, email=email) == 1
    request_run = ("kcm_subject_request", f"it_request_{uuid.uuid4().hex[:6]}")
    api.request(
        "POST",
        "/api/v2/dags/kcm_subject_request/dagRuns",
        json={
            "dag_run_id": request_run[1],
            "logical_date": None,
            "conf": {"client": "acme_energie", "request_type": "erasure", "email": email,
                     "received_on": days.today.isoformat()},
        },
    )  # fmt: skip
    api.unpause("kcm_subject_request")
    _run_ok(api, [request_run], timeout=180)
    assert _scalar(eng, person, email=email) == 0, "the erased person is still in respondents"
    with eng.connect() as conn:
        request = conn.execute(
            sa.text("SELECT status, due_on FROM subject_requests WHERE run_id = :run_id"), {"run_id": request_run[1]}
        ).one()
    assert request.status == "done"

    # What the night must leave: responders of running assignments keep their data (R2 term not reached),
    # acme's completed assignment is anonymised (R2), flandria's pilot destroyed (R4), non-respondents deleted (R3).
    expected_personal = _by_client(
        eng,
        "SELECT client_id, count(*) FROM respondents WHERE responded_at IS NOT NULL "
        "AND assignment_id IN ('ktv_running', 'nps_running') GROUP BY client_id",
    )
    expected_anonymised = _by_client(
        eng,
        "SELECT client_id, count(*) FROM respondents WHERE responded_at IS NOT NULL "
        "AND assignment_id = 'ktv_done' GROUP BY client_id",
    )
    expected_recordings = _by_client(
        eng,
        "SELECT client_id, count(*) FROM recordings WHERE state = 'stored' "
        "AND assignment_id IN ('ktv_running', 'nps_running') GROUP BY client_id",
    )
    assert expected_anonymised.get("acme_energie", 0) > 0
    assert _scalar(eng, "SELECT count(*) FROM respondents WHERE assignment_id = 'pilot_chat'") > 0

    # 3. The nightly retention run for a night weeks ahead: terms have passed.
    runs = [(f"kcm_retention__{c}", f"it_night_{c}") for c in CLIENTS]
    for dag_id, run_id in runs:
        api.trigger(dag_id, days.night_at, run_id=run_id)
        api.unpause(dag_id)
    finished = _run_ok(api, runs, timeout=420)

    personal = _by_client(
        eng, "SELECT client_id, count(*) FROM respondents WHERE anonymised_on IS NULL GROUP BY client_id"
    )
    anonymised = _by_client(
        eng, "SELECT client_id, count(*) FROM respondents WHERE anonymised_on IS NOT NULL GROUP BY client_id"
    )
    assert personal == expected_personal
    assert anonymised == expected_anonymised
    assert _scalar(eng, "SELECT count(*) FROM respondents WHERE responded_at IS NULL") == 0  # R3
    assert _scalar(eng, "SELECT count(*) FROM respondents WHERE assignment_id = 'pilot_chat'") == 0  # R4
    stored = _by_client(eng, "SELECT client_id, count(*) FROM recordings WHERE state = 'stored' GROUP BY client_id")
    assert stored == expected_recordings
    on_disk = sorted(p.name for p in (topology.kcm_home / "recordings").rglob("*.wav"))
    assert len(on_disk) == sum(expected_recordings.values())
    assert _scalar(eng, "SELECT count(*) FROM respondents WHERE anonymised_on IS NOT NULL AND email IS NOT NULL") == 0

    # 4. The proof (R11) ended each night and passed; its report is on disk.
    with eng.connect() as conn:
        proofs = {
            row.client_id: row
            for row in conn.execute(
                sa.text("SELECT client_id, action, as_of, run_id FROM audit_events WHERE rule = 'R11'")
            )
        }
    assert {c: (p.action, p.as_of, p.run_id) for c, p in proofs.items()} == {
        c: ("proof_passed", days.night, f"it_night_{c}") for c in CLIENTS
    }
    for client_id in CLIENTS:
        assert (topology.kcm_home / "reports" / client_id / "nightly" / f"{days.night}.html").is_file()

    # 5. The Retention view (served by this api-server) shows the same numbers.
    view = httpx.get(
        f"{topology.base_url}/retention/api/overview",
        params={"as_of": days.night.isoformat()},
        headers={"Authorization": f"Bearer {api.token}"},
        timeout=60,
    ).json()
    shown = {c["client_id"]: c for c in view["clients"]}
    for client_id in CLIENTS:
        assert shown[client_id]["personal_respondents"] == expected_personal.get(client_id, 0)
        assert shown[client_id]["anonymised_respondents"] == expected_anonymised.get(client_id, 0)
        assert shown[client_id]["recordings"] == expected_recordings.get(client_id, 0)
        assert shown[client_id]["proof"]["passed"] is True
        assert shown[client_id]["proof"]["report"] == f"{client_id}/nightly/{days.night}.html"
    assert shown["acme_energie"]["last_night"]["anonymised"] == expected_anonymised["acme_energie"]
    assert httpx.get(f"{topology.base_url}/retention/api/overview", timeout=30).status_code == 401

    # Two runs of one client never overlapped (design §6).
    assert overlapping_runs(api.runs_of("kcm_")) == []
    assert all(run["state"] == "success" for run in finished.values())
