"""DAG parse time for many clients (issue 2 bench): goal 1000 clients in under 2 s.

Generates N client configs in a temporary folder and times `DagBag` filling itself
from the project's dags/ folder, in a fresh interpreter per N (Airflow's own import
is excluded: it is paid once per parsing process, not per client).
Prints the time and its ratio to the goal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = {1000: 2.0}
SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "50,300,1000").split(",")]

_CHILD = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "dags": len(bag.dag_ids), "errors": len(bag.import_errors)}))
"""


def write_clients(folder: Path, count: int) -> None:
    for i in range(count):
        client_id = f"client_{i:04d}"
        doc = {
            "client_id": client_id,
            "name": f"Client {i} B.V.",
            "country": "NL",
            "retention_months": 1 + i % 12,
            "non_respondent_months": 2,
            "ingest_schedule": f"{i % 60} {i % 24} * * *",
            "destruction_requested_on": None,
            "assignments": [
                {
                    "id": f"a{j}",
                    "title": f"Onderzoek {j}",
                    "completed_on": f"2026-0{1 + j}-15",
                    "destruction_requested_on": None,
                }
                for j in range(3)
            ],
        }
        (folder / f"{client_id}.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")


def measure(count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        clients = Path(tmp) / "clients"
        clients.mkdir()
        write_clients(clients, count)
        env = {
            **os.environ,
            "KCM_CLIENTS_DIR": str(clients),
            "AIRFLOW_HOME": str(Path(tmp) / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": str(ROOT),
        }
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(ROOT / "dags")], env=env, check=True, capture_output=True, text=True
        ).stdout
        return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    print(f"{'clients':>8} {'dags':>6} {'parse s':>8} {'per client ms':>14} {'vs goal':>8}")
    for count in SIZES:
        result = measure(count)
        goal = GOAL_SECONDS.get(count)
        ratio = f"{result['seconds'] / goal:.2f}x" if goal else "-"
        print(
            f"{count:>8} {result['dags']:>6} {result['seconds']:>8.2f} {1000 * result['seconds'] / count:>14.2f} {ratio:>8}"
            + (f"  ({result['errors']} import errors)" if result["errors"] else "")
        )
    print("goal: 1000 clients in under 2 s (ratio <= 1.00x)")


if __name__ == "__main__":
    main()
