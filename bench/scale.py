"""One simulated day for many clients on the Celery topology (issue 6 bench).

Starts the production topology as local processes (tests/integration/topology.py:
api-server, scheduler, dag-processor and `--workers` Celery workers on fresh
PostgreSQL databases and the local Redis), gives every client a small sample
delivery, then plays one day through the REST API: every client's nightly retention
run (02:00) and its ingest run (scheduled an hour ago; `--ingest-at night`: at 02:00
too), triggered together as if the whole day's work arrived at once, so each client's
two runs take turns on its lease. Prints the wall time of the
day, where the time went (task processes, their start-up, the scheduler's hand-over
between tasks, CPU per component), the scheduler's DAG-parse time of the client DAG
file (from the dag-processor's own statistics), and whether two runs of one client
ever held the client at the same time (design §6). Exits non-zero on such an overlap,
on two steps of one client running at once, and on a failed or unfinished run
(a failed proof fails its run).

    python bench/scale.py                     # 200 clients, 2 workers x 2 processes
    python bench/scale.py --clients 6         # a quick look
    python bench/scale.py --clients 20 --weight-rule downstream   # every client's runs contend
    python bench/scale.py --clients 20 --executor LocalExecutor

The deliveries are small on purpose: the topology is measured, not the data volume
(bench/ingest.py and bench/retention.py measure that). Nothing here is timed as a
test: it prints numbers and ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.topology import (  # noqa: E402
    ACQUIRE_LEASE,
    RELEASE_LEASE,
    Topology,
    TopologyError,
    create_database,
    drop_database,
    lease_spans,
    overlapping_leases,
    overlapping_tasks,
    redis_url,
)

scenario = None  # tests.integration.scenario, imported once the code under test is on sys.path
PARSE_GOAL_SECONDS = 2.0  # bench/parse.py's goal for 1000 clients
# Imported once by each Celery worker before it forks its task processes (Celery's `imports`), so a task
# does not import Great Expectations, pandas and the library again: seconds of CPU per task on this machine.
PRELOAD = (
    "pandas",
    "pyarrow.csv",
    "great_expectations",
    "great_expectations.expectations",
    "include.steps",
    "include.lease",
    "include.sync",
    "include.retention",
    "include.proof",
    "include.ingest.landing",
    "include.ingest.validation",
    "include.ingest.responses",
    "include.ingest.recordings",
)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="Celery workers")
    parser.add_argument("--concurrency", type=int, default=2, help="task processes per worker")
    parser.add_argument("--respondents", type=int, default=30, help="invited people per client delivery")
    parser.add_argument("--recordings", type=int, default=2, help="recordings per client delivery")
    parser.add_argument("--executor", default="CeleryExecutor", choices=("CeleryExecutor", "LocalExecutor"))
    parser.add_argument(
        "--poke-seconds", type=float, default=60, help="KCM_LEASE_POKE_SECONDS: a waiting run looks again"
    )
    parser.add_argument(
        "--heartbeat-seconds", type=int, default=1, help="[workers] min_heartbeat_interval (Airflow: 5)"
    )
    parser.add_argument(
        "--weight-rule", default="upstream", help="[core] default_task_weight_rule (Airflow: downstream)"
    )
    parser.add_argument(
        "--parse-seconds", type=int, default=120, help="[dag_processor] min_file_process_interval (Airflow: 30)"
    )
    parser.add_argument("--no-preload", action="store_true", help="workers do not import the task libraries at start")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any other setting (env)")
    parser.add_argument("--ingest-at", default="hour-ago", choices=("night", "hour-ago"),
                        help="ingest scheduled at the night's 02:00 (a client's runs contend) or an hour ago")  # fmt: skip
    parser.add_argument(
        "--code", default="HEAD", help="git commit whose dags/, include/, plugins/ run ('worktree': as they are)"
    )
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds to wait for the day's runs")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs) afterwards")
    return parser.parse_args()


def deployment_settings(args) -> dict[str, str]:
    """What a deployment of hundreds of clients sets; every value does real work, none skips any."""
    slots = args.workers * args.concurrency
    settings = {
        # Never more task instances in flight than the workers have processes: the rest wait in the
        # scheduler (by priority), not in the broker where [scheduler] task_queued_timeout would fail them.
        "AIRFLOW__CORE__PARALLELISM": str(slots),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(args.concurrency),
        # A client's run is a chain, so one task per DAG runs at a time anyway; max_active_runs=1 per DAG.
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "16",
        # Later tasks of a chain first: started runs finish and give their client's lease back sooner.
        "AIRFLOW__CORE__DEFAULT_TASK_WEIGHT_RULE": args.weight_rule,
        # The supervisor notices its task process's exit at the latest after this many seconds (it
        # waits out its select timeout): with Airflow's 5 every short task kept its slot 5 s longer.
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": str(args.heartbeat_seconds),
        # Re-parsing the client file of hundreds of clients takes seconds of CPU; configs change a few times a day.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(args.parse_seconds),
        "AIRFLOW__SCHEDULER__MAX_DAGRUNS_PER_LOOP_TO_SCHEDULE": "20",
        "KCM_LEASE_POKE_SECONDS": f"{args.poke_seconds:g}",
    }
    if args.executor == "CeleryExecutor" and not args.no_preload:
        present = [m for m in PRELOAD if importlib.util.find_spec(m) is not None]
        settings["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"] = json.dumps({"imports": present})
    for item in args.set:
        key, _, value = item.partition("=")
        settings[key] = value
    return settings


def code_under_test(ref: str, root: Path) -> tuple[Path, str]:
    """dags/, include/ and plugins/ of one commit, copied out: edits in the working tree during a long run change nothing."""
    if ref == "worktree":
        return ROOT, "the working tree"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True, text=True,
                            check=True).stdout.strip()  # fmt: skip
    code = root / "code"
    code.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "dags", "include", "plugins"],
                             capture_output=True, check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    return code, f"commit {commit}"


def main() -> int:
    global scenario
    args = arguments()
    root = Path(tempfile.mkdtemp(prefix="kcm-bench-scale-"))
    code, code_name = code_under_test(args.code, root)
    sys.path.insert(0, str(code))
    scenario = importlib.import_module("tests.integration.scenario")
    days = scenario.same_hour() if args.ingest_at == "night" else scenario.same_day()
    clients_dir = root / "clients"
    clients_dir.mkdir()
    metadata_url = create_database("kcm_bench_airflow")
    warehouse_url = create_database("kcm_bench_warehouse")
    settings = deployment_settings(args)
    topology = Topology(
        root / "deployment",
        clients_dir,
        metadata_url=metadata_url,
        warehouse_url=warehouse_url,
        executor=args.executor,
        extra_env=settings,
        project=code,
    )
    print(f"{args.clients} clients, {args.executor}"
          + (f", {args.workers} workers x {args.concurrency} processes" if args.executor == "CeleryExecutor" else "")
          + f"; broker {redis_url() if args.executor == 'CeleryExecutor' else '-'}; {os.cpu_count()} cores; "
          f"logs in {topology.logs}")  # fmt: skip
    print(f"code: dags/, include/ and plugins/ of {code_name}")
    print("settings:")
    for key, value in settings.items():
        print(f"  {key}={value}")
    print(
        f"day: nightly runs of {days.night} ({days.night_at:%H:%M} UTC) and ingest runs at {days.ingest_at:%Y-%m-%d %H:%M} "
        "UTC, each client's two triggered one after the other, all at once"
    )
    failed = True
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
            print(f"topology up and {len(dag_ids)} DAGs parsed in {time.monotonic() - started:.1f} s", flush=True)
            failed = report_day(api, topology, client_ids, days, args)
    except TopologyError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        topology.stop()
        if args.executor == "CeleryExecutor":
            topology.forget_queue()
        drop_database(warehouse_url)
        drop_database(metadata_url)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


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


def report_day(api, topology: Topology, client_ids: list[str], days: scenario.Calendar, args) -> bool:
    """Trigger the day (nightly runs, then ingest runs), wait, print what it took; True when the goal is missed."""
    runs = [run for c in client_ids for run in ((f"kcm_retention__{c}", f"bench_night_{c}", days.night_at),
                                                 (f"kcm_ingest__{c}", f"bench_ingest_{c}", days.ingest_at))]  # fmt: skip
    cpu_before, machine_before, own_before = topology.cpu_seconds(), _machine_cpu(), _own_cpu()
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

    timed_out = False
    try:
        topology.wait_until(day_done, args.timeout, "the day's runs to finish", interval=30)
    except TopologyError as exc:
        if "timed out" not in str(exc):
            raise
        timed_out = True
        print(f"  not finished after {args.timeout:.0f} s: reporting what ran", flush=True)
    wall = time.monotonic() - started
    cpu = {name: used - cpu_before.get(name, 0.0) for name, used in topology.cpu_seconds().items()}
    machine = tuple(after - before for after, before in zip(_machine_cpu(), machine_before, strict=True))
    own = _own_cpu() - own_before

    all_runs = api.runs_of("kcm_")
    mine = [r for r in all_runs if (r["dag_id"], r["dag_run_id"]) in wanted]
    extra = [r for r in all_runs if (r["dag_id"], r["dag_run_id"]) not in wanted]
    tasks = [t for t in api.task_instances_of("kcm_") if (t["dag_id"], t["dag_run_id"]) in wanted]
    workloads = topology.workloads()
    parses = topology.parse_durations()

    print()
    print(f"day of {len(client_ids)} clients: wall {wall:.0f} s ({wall / len(client_ids):.1f} s per client); "
          f"triggering {len(runs)} runs through the REST API took {triggered:.0f} s")  # fmt: skip
    run_states = Counter(r["state"] for r in mine)
    print(f"runs: {len(mine)} {dict(run_states)}; runs the scheduler added on its own: {len(extra)}")
    print(f"task instances: {len(tasks)} {dict(Counter(t['state'] for t in tasks))}; "
          f"retried: {sum(1 for t in tasks if (t.get('try_number') or 1) > 1)}")  # fmt: skip
    report_time(tasks, workloads, topology.task_parse_milliseconds(), wall, args)
    report_cpu(cpu, machine, own, wall)
    if parses:
        print(f"DAG-parse time of kcm_clients.py ({len(client_ids)} clients, {2 * len(client_ids)} DAGs) in the "
              f"dag-processor: first {parses[0]:.2f} s, median {statistics.median(parses):.2f} s, max {max(parses):.2f} s "
              f"over {len(parses)} parses ({1000 * statistics.median(parses) / len(client_ids):.1f} ms per client; "
              f"bench/parse.py goal: 1000 clients in {PARSE_GOAL_SECONDS:.0f} s, "
              f"{1000 * PARSE_GOAL_SECONDS / 1000:.0f} ms per client)")  # fmt: skip
    missed = report_overlaps(tasks)
    missed |= report_failures(mine, tasks, wanted)
    if timed_out:
        print(f"unfinished runs: {len(wanted) - sum(1 for r in mine if r['state'] in ('success', 'failed'))}")
    print("goal: no two runs of one client hold it at the same time (0 pairs), no two steps of one client run at "
          f"once, every run succeeds: {'MISSED' if missed or timed_out else 'met'}")  # fmt: skip
    return missed or timed_out


def report_time(tasks: list[dict], workloads, parse_ms: list[float], wall: float, args) -> None:
    """Where the day's time went: task processes and their slots, start-up, hand-over between a run's tasks."""
    slots = args.workers * args.concurrency
    pokes = [w for w in workloads if w.task_id == ACQUIRE_LEASE]
    busy = sum(w.seconds for w in workloads)
    print(f"task processes: {len(workloads)} ({len(pokes)} of them acquire_lease looks, "
          f"{sum(1 for w in pokes if w.final_state == 'up_for_reschedule')} finding the lease taken); "
          f"slot time {busy:.0f} s = {busy / wall:.1f} of {slots} slots busy on average")  # fmt: skip
    by_task: dict[str, list[float]] = defaultdict(list)
    for w in workloads:
        by_task[w.task_id].append(w.seconds)
    ran = {(t["dag_id"], t["dag_run_id"], t["task_id"]): t for t in tasks}
    own = {key: _seconds(t["start_date"], t["end_date"]) for key, t in ran.items()
           if t.get("start_date") and t.get("end_date") and key[2] != ACQUIRE_LEASE}  # fmt: skip
    print("  per task (slot seconds: median, total; count):")
    for task_id, seconds in sorted(by_task.items(), key=lambda item: -sum(item[1])):
        print(f"    {task_id:24} {statistics.median(seconds):6.1f} s {sum(seconds):8.0f} s  {len(seconds):5d}")
    # The worker's slot time minus the task's own start-to-end: fork, the supervisor's start, reaping the process.
    outside = [w.seconds - own[(w.dag_id, w.run_id, w.task_id)]
               for w in workloads if (w.dag_id, w.run_id, w.task_id) in own]  # fmt: skip
    if outside:
        print(f"  slot time outside the task's own start-to-end (process start and end): median "
              f"{statistics.median(outside):.2f} s, total {sum(outside):.0f} s")  # fmt: skip
    if parse_ms:
        print(f"  each task process parsing its own DAG: median {statistics.median(parse_ms):.0f} ms")
    # Hand-over: from a task's end to the next task of its run starting (scheduler loop, queue, broker, worker).
    gaps, waits = [], []
    per_run: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for t in tasks:
        if t.get("start_date") and t.get("end_date"):
            per_run[(t["dag_id"], t["dag_run_id"])].append(t)
        if t.get("queued_when") and t.get("start_date") and t["task_id"] != ACQUIRE_LEASE:
            waits.append(_seconds(t["queued_when"], t["start_date"]))
    for run_tasks in per_run.values():
        run_tasks.sort(key=lambda t: t["start_date"])
        for before, after in zip(run_tasks, run_tasks[1:], strict=False):
            gaps.append(_seconds(before["end_date"], after["start_date"]))
    if gaps:
        print(f"  hand-over from a task's end to the next task of its run starting: median "
              f"{statistics.median(gaps):.1f} s, 90th percentile {_percentile(gaps, 0.9):.1f} s")  # fmt: skip
    if waits:
        print(f"  from queued to running: median {statistics.median(waits):.1f} s, "
              f"90th percentile {_percentile(waits, 0.9):.1f} s")  # fmt: skip
    held = [_seconds(s["start_date"], s["end_date"]) for s in lease_spans(tasks)]
    if held:
        print(f"  a run holding its client's lease: median {statistics.median(held):.0f} s, max {max(held):.0f} s")


def report_cpu(cpu: dict[str, float], machine: tuple[float, float], own: float, wall: float) -> None:
    busy, total = machine
    ours = sum(cpu.values()) + own
    print(f"CPU during the day: {', '.join(f'{name} {seconds:.0f} s' for name, seconds in cpu.items())}, "
          f"this script {own:.0f} s; the machine was busy {busy:.0f} of {total:.0f} core-seconds "
          f"({busy - ours:.0f} s elsewhere: PostgreSQL, Redis and anything else running)")  # fmt: skip


def report_overlaps(tasks: list[dict]) -> bool:
    """Lease-held spans of one client's runs, and its tasks (not the waiting acquire_lease) running at once."""
    spans = lease_spans(tasks)
    leases = overlapping_leases(tasks)
    print(f"runs holding their client's lease at the same time: {len(leases)} pairs in "
          f"{len({o[0] for o in leases})} clients ({len(spans)} lease-held spans; "
          f"{sum(1 for s in spans if not s['released'])} never released)")  # fmt: skip
    for client_id, first, second in leases[:10]:
        print(f"  {client_id}: {first} and {second}")
    together = overlapping_tasks(tasks, skip=(ACQUIRE_LEASE,))
    handover = [o for o in together if any(f"/{RELEASE_LEASE}[" in name for name in o[1:])]
    steps = [o for o in together if o not in handover]
    print(f"tasks of one client running at the same time (acquire_lease's waiting left out): {len(together)} pairs; "
          f"{len(handover)} a release_lease finishing while the next run started, {len(steps)} between steps")  # fmt: skip
    for client_id, first, second in (steps or handover)[:10]:
        print(f"  {client_id}: {first} and {second}")
    return bool(leases or steps)


def report_failures(runs: list[dict], tasks: list[dict], wanted: set) -> bool:
    """Failed runs with their failed task ids, and failed or retried task counts (ids only, no data)."""
    failed_runs = [r for r in runs if r["state"] == "failed"]
    failed_tasks = [t for t in tasks if t["state"] in ("failed", "upstream_failed", "up_for_retry")]
    print(f"failed runs: {len(failed_runs)}; failed tasks: "
          f"{dict(Counter((t['dag_id'].split('__')[0], t['task_id'], t['state']) for t in failed_tasks))}")  # fmt: skip
    by_run = defaultdict(list)
    for t in failed_tasks:
        by_run[(t["dag_id"], t["dag_run_id"])].append(t["task_id"])
    for run in failed_runs[:20]:
        print(f"  {run['dag_id']}/{run['dag_run_id']}: {', '.join(by_run[(run['dag_id'], run['dag_run_id'])])}")
    proofs_failed = sum(1 for t in failed_tasks if t["task_id"] == "prove")
    return bool(failed_runs or proofs_failed or len(runs) < len(wanted))


def _seconds(start: str, end: str) -> float:
    def moment(value: str) -> dt.datetime:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))

    return (moment(end) - moment(start)).total_seconds()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) core-seconds of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
