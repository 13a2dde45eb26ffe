"""One simulated day for many clients on the Celery topology (issue 6 bench).

Starts the production topology as local processes (tests/integration/topology.py:
api-server, scheduler, dag-processor and `--workers` Celery workers on fresh
PostgreSQL databases and the local Redis), gives every client a sample delivery,
then plays one day through the REST API: every client's nightly retention run
(02:00) and its ingest run, triggered together as if the whole day's work arrived at
once. Prints the wall time of the day, the scheduler's DAG-parse time of the client
DAG file (from the dag-processor's own statistics), and whether any two runs, or any
two tasks, of one client overlapped (design §6: two runs for one client never overlap).

    python bench/scale.py                     # 200 clients, 2 workers x 2 processes
    python bench/scale.py --clients 20 --executor LocalExecutor

Nothing here is timed as a test: it prints numbers and ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration import scenario  # noqa: E402
from tests.integration.topology import (  # noqa: E402
    Topology,
    TopologyError,
    create_database,
    drop_database,
    overlapping_runs,
    overlapping_tasks,
    redis_url,
)

PARSE_GOAL_SECONDS = 2.0  # bench/parse.py's goal for 1000 clients


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="Celery workers")
    parser.add_argument("--concurrency", type=int, default=2, help="task processes per worker")
    parser.add_argument("--respondents", type=int, default=30, help="invited people per client delivery")
    parser.add_argument("--recordings", type=int, default=2, help="recordings per client delivery")
    parser.add_argument("--executor", default="CeleryExecutor", choices=("CeleryExecutor", "LocalExecutor"))
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds to wait for the day's runs")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs) afterwards")
    return parser.parse_args()


def main() -> int:
    args = arguments()
    days = scenario.same_day()
    root = Path(tempfile.mkdtemp(prefix="kcm-bench-scale-"))
    clients_dir = root / "clients"
    clients_dir.mkdir()
    metadata_url = create_database("kcm_bench_airflow")
    warehouse_url = create_database("kcm_bench_warehouse")
    parallel = args.workers * args.concurrency
    topology = Topology(
        root / "deployment",
        clients_dir,
        metadata_url=metadata_url,
        warehouse_url=warehouse_url,
        executor=args.executor,
        # LocalExecutor stands in for the workers with as many task processes; never more than the workers offer.
        extra_env={"AIRFLOW__CORE__PARALLELISM": str(max(parallel, 4))},
    )
    print(f"{args.clients} clients, {args.executor}"
          + (f", {args.workers} workers x {args.concurrency} processes" if args.executor == "CeleryExecutor" else f", {parallel} task processes")
          + f"; broker {redis_url() if args.executor == 'CeleryExecutor' else '-'}; logs in {topology.logs}")  # fmt: skip
    try:
        started = time.monotonic()
        client_ids = write_clients(clients_dir, topology, days, args)
        print(f"setup: {len(client_ids)} client configs and deliveries in {time.monotonic() - started:.1f} s")
        with topology:
            started = time.monotonic()
            topology.airflow("db", "migrate")
            topology.start_api_server()
            topology.start_dag_processor()
            topology.start_scheduler()
            if args.executor == "CeleryExecutor":
                for number in range(1, args.workers + 1):
                    topology.start_worker(f"worker{number}", concurrency=args.concurrency)
            api = topology.api()
            dag_ids = {f"{kind}__{c}" for c in client_ids for kind in ("kcm_ingest", "kcm_retention")}
            api.wait_for_dags(dag_ids, timeout=900)
            parsed_in = time.monotonic() - started
            print(f"topology up and {len(dag_ids)} DAGs parsed in {parsed_in:.1f} s")
            report_day(api, topology, client_ids, days, args)
    except TopologyError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        topology.stop()
        drop_database(warehouse_url)
        drop_database(metadata_url)
        if not args.keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
    return 0


def write_clients(folder: Path, topology: Topology, days: scenario.Calendar, args) -> list[str]:
    """Half energy-like, half telecom-like sample clients, each with a small clean delivery."""
    client_ids = []
    for number in range(args.clients):
        client_id = f"client_{number:04d}"
        build = scenario.energy_client if number % 2 == 0 else scenario.telecom_client
        client = scenario.write_client(folder, build(client_id, days, name=f"Opdrachtgever {number} B.V."))
        scenario.deliver(client, topology.kcm_home, days, respondents=args.respondents, recordings=args.recordings)
        client_ids.append(client_id)
    return client_ids


def report_day(api, topology: Topology, client_ids: list[str], days: scenario.Calendar, args) -> None:
    """Trigger the day (nightly runs, then ingest runs), wait, and print what it took."""
    runs = [(f"kcm_retention__{c}", f"bench_night_{c}", days.night_at) for c in client_ids]
    runs += [(f"kcm_ingest__{c}", f"bench_ingest_{c}", days.ingest_at) for c in client_ids]
    started = time.monotonic()
    for dag_id, run_id, logical_date in runs:
        api.trigger(dag_id, logical_date, run_id=run_id)
        api.unpause(dag_id)
    triggered = time.monotonic() - started
    wanted = {(dag_id, run_id) for dag_id, run_id, _ in runs}

    def day_done() -> bool:
        states = {(r["dag_id"], r["dag_run_id"]): r["state"] for r in api.runs_of("kcm_")}
        finished = sum(1 for key in wanted if states.get(key) in ("success", "failed"))
        print(f"  {time.monotonic() - started:7.0f} s: {finished}/{len(wanted)} runs finished", flush=True)
        return finished == len(wanted)

    topology.wait_until(day_done, args.timeout, "the day's runs to finish", interval=30)
    wall = time.monotonic() - started

    all_runs = api.runs_of("kcm_")
    mine = [r for r in all_runs if (r["dag_id"], r["dag_run_id"]) in wanted]
    states = Counter(r["state"] for r in mine)
    extra = [r for r in all_runs if (r["dag_id"], r["dag_run_id"]) not in wanted]
    tasks = api.task_instances_of("kcm_")
    task_seconds = [
        (dt.datetime.fromisoformat(t["end_date"]) - dt.datetime.fromisoformat(t["start_date"])).total_seconds()
        for t in tasks
        if t.get("start_date") and t.get("end_date")
    ]
    run_overlaps = overlapping_runs(all_runs)
    task_overlaps = overlapping_tasks(tasks)
    parses = topology.parse_durations()

    print()
    print(f"day of {len(client_ids)} clients ({len(mine)} runs, {len(tasks)} task instances): "
          f"wall {wall:.0f} s ({wall / len(client_ids):.1f} s per client); triggering took {triggered:.0f} s")  # fmt: skip
    print(f"run states: {dict(states)}; runs the scheduler added on its own: {len(extra)}")
    failed_tasks = Counter(
        (t["dag_id"].split("__")[0], t["task_id"], t["state"])
        for t in tasks
        if t["state"] not in ("success", "skipped", None) and (t["dag_id"], t["dag_run_id"]) in wanted
    )
    for (kind, task_id, state), count in sorted(failed_tasks.items()):
        print(f"  {kind}.{task_id}: {count} x {state}")
    if task_seconds:
        print(f"task duration: median {statistics.median(task_seconds):.1f} s, max {max(task_seconds):.1f} s, "
              f"sum {sum(task_seconds):.0f} s (= {sum(task_seconds) / wall:.1f} task processes busy on average)")  # fmt: skip
    if parses:
        print(f"DAG-parse time of kcm_clients.py ({len(client_ids)} clients, {2 * len(client_ids)} DAGs) in the "
              f"dag-processor: first {parses[0]:.2f} s, median {statistics.median(parses):.2f} s, max {max(parses):.2f} s "
              f"over {len(parses)} parses ({1000 * statistics.median(parses) / len(client_ids):.1f} ms per client; "
              f"bench/parse.py goal: 1000 clients in {PARSE_GOAL_SECONDS:.0f} s, "
              f"{1000 * PARSE_GOAL_SECONDS / 1000:.0f} ms per client)")  # fmt: skip
    print(f"overlapping runs of one client: {len(run_overlaps)} pairs in {len({o[0] for o in run_overlaps})} clients")
    for client_id, first, second in run_overlaps[:5]:
        print(f"  {client_id}: {first} and {second}")
    print(f"tasks of one client running at the same time: {len(task_overlaps)} pairs "
          f"in {len({o[0] for o in task_overlaps})} clients")  # fmt: skip
    print("goal: no two runs of one client overlap (0 pairs); every run succeeds")


if __name__ == "__main__":
    sys.exit(main())
