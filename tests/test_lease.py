"""One client, one run at a time (design §6): a client's ingest run and its nightly run take turns on the client's
lease. The first run takes it, the other waits; a retry re-enters; a run that died frees it when it lapses and a
run that stalled past it fails instead of carrying on; only the holder gives it back; of runs racing for it,
exactly one wins — on SQLite and on PostgreSQL, with threads and with processes."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from include import lease, steps
from tests import airflow_metadata
from tests.factories import write_client

ROOT = Path(__file__).resolve().parent.parent
CLIENT = "acme"
INGEST = lease.Holder("kcm_ingest__acme", "scheduled__2026-11-20T05:00:00+00:00")
NIGHT = lease.Holder("kcm_retention__acme", "scheduled__2026-11-20T01:00:00+00:00")
SECONDS = dt.timedelta(seconds=1)


def holder(warehouse, client_id: str = CLIENT) -> lease.Holder | None:
    with warehouse.connect() as conn:
        row = conn.execute(
            sa.text("SELECT dag_id, run_id FROM client_leases WHERE client_id = :c"), {"c": client_id}
        ).one_or_none()
    return lease.Holder(*row) if row else None


def lease_times(warehouse) -> tuple[str, str]:
    with warehouse.connect() as conn:
        row = conn.execute(
            sa.text("SELECT acquired_at, expires_at FROM client_leases WHERE client_id = :c"), {"c": CLIENT}
        )
        acquired_at, expires_at = row.one()
    return str(acquired_at), str(expires_at)


# --- taking, waiting, re-entering, giving back --------------------------------------------------


def test_the_first_run_takes_the_free_lease_and_the_other_dag_of_the_client_waits(warehouse, caplog):
    caplog.set_level(logging.INFO, logger="include.lease")

    assert lease.acquire(warehouse, CLIENT, INGEST)
    assert not lease.acquire(warehouse, CLIENT, NIGHT)

    assert holder(warehouse) == INGEST
    waited = [r.getMessage() for r in caplog.records if "waits" in r.getMessage()]
    assert waited and f"client acme: lease held by {INGEST}" in waited[0] and f"; {NIGHT} waits" in waited[0]
    # Another client's runs are not held up by acme's.
    assert lease.acquire(warehouse, "bakker", lease.Holder("kcm_retention__bakker", NIGHT.run_id))


def test_a_retry_or_a_cleared_task_of_the_holding_run_re_enters_and_keeps_its_start(warehouse):
    assert lease.acquire(warehouse, CLIENT, NIGHT)
    acquired_at, expires_at = lease_times(warehouse)
    time.sleep(0.05)

    assert lease.acquire(warehouse, CLIENT, NIGHT)

    again_acquired_at, again_expires_at = lease_times(warehouse)
    assert again_acquired_at == acquired_at
    assert again_expires_at > expires_at, "re-entering extends the lease"


def test_only_the_holder_gives_the_lease_back(warehouse):
    assert lease.acquire(warehouse, CLIENT, INGEST)

    assert not lease.release(warehouse, CLIENT, NIGHT)
    assert holder(warehouse) == INGEST
    assert lease.release(warehouse, CLIENT, INGEST)
    assert holder(warehouse) is None
    assert not lease.release(warehouse, CLIENT, INGEST), "a second release (a retried task) changes nothing"
    assert lease.acquire(warehouse, CLIENT, NIGHT)


# --- lapsing and taking over ------------------------------------------------------------------


def test_a_lapsed_lease_is_taken_over_and_the_stalled_run_fails_at_its_next_step(warehouse, caplog):
    caplog.set_level(logging.INFO, logger="include.lease")
    assert lease.acquire(warehouse, CLIENT, INGEST, lifetime=SECONDS)
    assert not lease.acquire(warehouse, CLIENT, NIGHT), "not lapsed yet"
    time.sleep(1.3)  # the ingest run died (or stalled) without a sign of life

    assert lease.acquire(warehouse, CLIENT, NIGHT)

    assert holder(warehouse) == NIGHT
    [takeover] = [r for r in caplog.records if "taken over" in r.getMessage()]
    assert takeover.levelno == logging.WARNING
    assert f"client acme: lease of {INGEST} lapsed at" in takeover.getMessage()
    assert f"taken over by {NIGHT}" in takeover.getMessage()
    ran = []
    with pytest.raises(lease.LeaseLost, match=rf"it is held by {NIGHT.dag_id} run .*acquire_lease"):
        with lease.held(warehouse, CLIENT, INGEST):
            ran.append("the step")
    assert ran == [], "the stalled run's next step must not start"
    assert not lease.release(warehouse, CLIENT, INGEST) and holder(warehouse) == NIGHT


def test_a_lapsed_lease_nobody_took_over_is_still_its_runs(warehouse):
    assert lease.acquire(warehouse, CLIENT, INGEST, lifetime=SECONDS)
    time.sleep(1.3)

    with lease.held(warehouse, CLIENT, INGEST):
        assert not lease.acquire(warehouse, CLIENT, NIGHT), "proving it extended the lease again"


def test_a_step_longer_than_the_lease_keeps_it_alive(warehouse):
    lifetime = 1.5 * SECONDS  # the heartbeat extends it every second
    assert lease.acquire(warehouse, CLIENT, INGEST, lifetime=lifetime)

    with lease.held(warehouse, CLIENT, INGEST, lifetime=lifetime):
        time.sleep(2.5)
        assert not lease.acquire(warehouse, CLIENT, NIGHT), "a working step's lease must not lapse"
        time.sleep(0.5)

    assert holder(warehouse) == INGEST


def test_a_step_whose_lease_was_taken_over_while_it_ran_fails_when_it_ends(warehouse):
    lifetime = 1.5 * SECONDS
    assert lease.acquire(warehouse, CLIENT, INGEST, lifetime=lifetime)

    with pytest.raises(lease.LeaseLost):
        with lease.held(warehouse, CLIENT, INGEST, lifetime=lifetime):
            # What a takeover after a stall looks like from the stalled run.
            with warehouse.begin() as conn:
                conn.execute(
                    sa.text("UPDATE client_leases SET dag_id = :d, run_id = :r WHERE client_id = :c"),
                    {"d": NIGHT.dag_id, "r": NIGHT.run_id, "c": CLIENT},
                )
            time.sleep(1.5)


def test_the_lease_lifetime_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("KCM_LEASE_MINUTES", raising=False)
    assert lease.ttl() == dt.timedelta(minutes=30)
    monkeypatch.setenv("KCM_LEASE_MINUTES", "7.5")
    assert lease.ttl() == dt.timedelta(minutes=7, seconds=30)
    monkeypatch.setenv("KCM_LEASE_MINUTES", "0")
    with pytest.raises(ValueError, match="KCM_LEASE_MINUTES must be a positive number of minutes"):
        lease.ttl()


# --- the steps ------------------------------------------------------------------------------------


def test_a_step_refuses_to_run_when_its_run_does_not_hold_the_lease(warehouse, clients_dir):
    write_client(clients_dir, CLIENT)
    step = steps.ClientStep(task_id="sync_config", client_id=CLIENT)
    context = {
        "ti": SimpleNamespace(dag_id=NIGHT.dag_id),
        "run_id": NIGHT.run_id,
        "logical_date": dt.datetime(2026, 11, 20, 1, tzinfo=dt.UTC),
    }
    clients = sa.text("SELECT count(*) FROM clients")
    assert lease.acquire(warehouse, CLIENT, INGEST)

    with pytest.raises(lease.LeaseLost, match=re.escape(f"{NIGHT} does not hold the client's lease")):
        step.execute(context)
    with warehouse.connect() as conn:
        assert conn.execute(clients).scalar() == 0, "sync_config must not have run"

    lease.release(warehouse, CLIENT, INGEST)
    assert lease.acquire(warehouse, CLIENT, NIGHT)
    step.execute(context)
    with warehouse.connect() as conn:
        assert conn.execute(clients).scalar() == 1


# --- racing ----------------------------------------------------------------------------------------


def _race(warehouse, start: threading.Barrier, run: lease.Holder, won: dict[lease.Holder, bool]) -> None:
    start.wait()
    won[run] = lease.acquire(warehouse, CLIENT, run)


def test_of_threads_racing_for_a_free_lease_exactly_one_wins(warehouse):
    runs = [
        lease.Holder(f"kcm_{kind}__acme", f"manual__race_{n}") for n in range(3) for kind in ("ingest", "retention")
    ]
    for round_ in range(5):
        start = threading.Barrier(len(runs))
        won: dict[lease.Holder, bool] = {}
        threads = [threading.Thread(target=_race, args=(warehouse, start, run, won)) for run in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        winners = [run for run, took in won.items() if took]
        assert len(won) == len(runs) and len(winners) == 1, f"round {round_}: winners {winners}"
        assert holder(warehouse) == winners[0]
        assert lease.release(warehouse, CLIENT, winners[0])


_RACER = """
import sys, time
from pathlib import Path
from include import lease, warehouse
eng = warehouse.engine()
with eng.connect():
    pass
Path(sys.argv[1]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
print("won" if lease.acquire(eng, "acme", lease.Holder(sys.argv[3], sys.argv[4])) else "lost")
"""


def test_of_processes_racing_for_a_free_lease_exactly_one_wins(warehouse, tmp_path):
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = []
    for n in range(4):
        dag_id = "kcm_ingest__acme" if n % 2 else "kcm_retention__acme"
        args = [sys.executable, "-c", _RACER, str(tmp_path / f"ready_{n}"), str(go), dag_id, f"manual__race_{n}"]
        racers.append(
            subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready_{n}").exists() for n in range(len(racers))):
        assert time.monotonic() < deadline, "the racing processes did not start"
        assert all(p.poll() is None for p in racers), [p.communicate() for p in racers if p.poll() is not None]
        time.sleep(0.01)
    go.touch()

    outcomes = [p.communicate(timeout=120) for p in racers]

    assert all(p.returncode == 0 for p in racers), [err[-2000:] for _, err in outcomes]
    results = [out.strip().splitlines()[-1] for out, _ in outcomes]
    assert sorted(results) == ["lost", "lost", "lost", "won"]
    winner = results.index("won")
    assert holder(warehouse) == lease.Holder(
        "kcm_ingest__acme" if winner % 2 else "kcm_retention__acme", f"manual__race_{winner}"
    )


# --- through Airflow's runner -----------------------------------------------------------------------


@pytest.mark.airflow
def test_a_client_run_takes_the_lease_first_and_gives_it_back_last(warehouse, clients_dir, run_dag):
    write_client(clients_dir, CLIENT)

    dag_run = run_dag("kcm_ingest__acme", "2026-11-20T05:00:00+00:00")

    assert dag_run.state == "success"
    states = {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dag_run.get_task_instances()}
    assert states["acquire_lease"] == states["release_lease"] == "success"
    assert holder(warehouse) is None


@pytest.mark.airflow
def test_a_run_waits_while_the_other_dag_holds_the_lease_and_proceeds_once_it_is_released(
    warehouse, clients_dir, run_dag, monkeypatch
):
    monkeypatch.setenv("KCM_LEASE_POKE_SECONDS", "1")
    write_client(clients_dir, CLIENT)
    assert lease.acquire(warehouse, CLIENT, NIGHT)
    waiting, released_at = threading.Event(), []

    class SeesTheWait(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "waits" in record.getMessage():
                waiting.set()

    def release_once_the_ingest_waits() -> None:
        if waiting.wait(timeout=300):
            time.sleep(1)
            released_at.append(dt.datetime.now(dt.UTC))
            lease.release(warehouse, CLIENT, NIGHT)

    seer = SeesTheWait()
    logging.getLogger("include.lease").addHandler(seer)
    releaser = threading.Thread(target=release_once_the_ingest_waits, daemon=True)
    releaser.start()
    try:
        dag_run = run_dag("kcm_ingest__acme", "2026-11-21T05:00:00+00:00")
    finally:
        logging.getLogger("include.lease").removeHandler(seer)
        waiting.set()
        releaser.join()

    assert dag_run.state == "success"
    assert released_at, "the ingest never waited for the lease the night held"
    instances = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    assert instances["sync_config"].start_date > released_at[0], "the ingest's first step ran under the night's lease"
    reschedules = airflow_metadata.query(
        "SELECT count(*) FROM task_reschedule r JOIN task_instance t ON t.id = r.ti_id "
        "WHERE t.dag_id = ? AND t.run_id = ? AND t.task_id = 'acquire_lease'",
        ("kcm_ingest__acme", dag_run.run_id),
    )
    assert reschedules[0][0] >= 1, "the wait gave the worker slot back (reschedule mode)"
    assert holder(warehouse) is None


# --- a subject request across clients ---------------------------------------------------------------

REQUEST = lease.Holder("kcm_subject_request", "manual__2026-11-20T09:00:00+00:00")


def test_a_request_holds_every_client_in_scope_while_it_works_and_gives_them_all_back(warehouse):
    with lease.held_all(warehouse, ["beta", CLIENT], REQUEST, wait=SECONDS, poke_seconds=0.1):
        assert holder(warehouse, CLIENT) == holder(warehouse, "beta") == REQUEST
        assert not lease.acquire(warehouse, CLIENT, INGEST), "the client's runs wait for the request"

    assert holder(warehouse, CLIENT) is None and holder(warehouse, "beta") is None


def test_a_request_waits_for_a_busy_client_without_holding_the_others_meanwhile(warehouse):
    assert lease.acquire(warehouse, "beta", NIGHT)
    seen_free: list[bool] = []

    def night_ends() -> None:
        time.sleep(0.5)
        seen_free.append(holder(warehouse, CLIENT) is None)  # the request let go of acme while it waited
        lease.release(warehouse, "beta", NIGHT)

    ender = threading.Thread(target=night_ends)
    ender.start()
    with lease.held_all(warehouse, [CLIENT, "beta"], REQUEST, wait=dt.timedelta(seconds=30), poke_seconds=0.2):
        assert holder(warehouse, "beta") == REQUEST
    ender.join()

    assert seen_free == [True]


def test_a_request_gives_up_naming_the_busy_client_after_its_wait_and_changes_nothing(warehouse):
    assert lease.acquire(warehouse, "beta", NIGHT)

    with pytest.raises(lease.LeaseBusy, match="client beta stayed busy"):
        with lease.held_all(warehouse, [CLIENT, "beta"], REQUEST, wait=SECONDS, poke_seconds=0.2):
            pytest.fail("the request ran without its clients' leases")

    assert holder(warehouse, CLIENT) is None and holder(warehouse, "beta") == NIGHT
