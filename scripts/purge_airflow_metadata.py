"""R10: remove finished subject-request runs from Airflow's own metadata after a fixed term (default 7 days).

A subject request's identifiers (e-mail, phone, keys) reach Airflow's metadata DB in the
run's conf (`dag_run.conf`) and in Airflow's audit log (`log`: the trigger's command line
or API call). KCM's tasks never put them in XCom or task logs, but Airflow keeps both
tables for ever unless told otherwise, and tasks cannot reach the metadata DB. So the
scheduler host runs this once a day:

    python -m scripts.purge_airflow_metadata            # runs ended more than 7 days ago
    python -m scripts.purge_airflow_metadata --days 0   # every finished run now
    python -m scripts.purge_airflow_metadata --dry-run  # count only

It deletes the finished (success or failed) runs of `kcm_subject_request` that ended
before the term, with everything Airflow stores under a run (task instances and their
history, XCom, rendered fields), the audit-log lines about that DAG, and the runs' task
log folders; then it vacuums the tables so the deleted rows do not linger in the
database files (SQLite: VACUUM; PostgreSQL: VACUUM of the tables touched). It prints
counts only. Runs still queued or running are left alone and counted: a run stuck for
longer than the term is reported so someone looks at it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
from pathlib import Path

DAG_ID = "kcm_subject_request"
DEFAULT_DAYS = 7
FINISHED = ("success", "failed")
VACUUMED = ("dag_run", "task_instance", "task_instance_history", "xcom", "rendered_task_instance_fields", "log")


def purge(days: int = DEFAULT_DAYS, *, dry_run: bool = False, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete finished runs of DAG_ID older than `days` and their audit-log lines; returns counts."""
    import sqlalchemy as sa
    from airflow.models.dagrun import DagRun
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    counts = {"runs": 0, "log_lines": 0, "task_log_folders": 0, "runs_still_open": 0}
    with create_session() as session:
        runs = (
            session.query(DagRun)
            .filter(DagRun.dag_id == DAG_ID, DagRun.state.in_(FINISHED), DagRun.end_date < cutoff)
            .all()
        )
        run_ids = [run.run_id for run in runs]
        counts["runs"] = len(runs)
        counts["runs_still_open"] = (
            session.query(DagRun)
            .filter(DagRun.dag_id == DAG_ID, DagRun.state.notin_(FINISHED), DagRun.run_after < cutoff)
            .count()
        )
        lines = session.query(Log).filter(
            Log.dttm < cutoff,
            sa.or_(Log.dag_id == DAG_ID, Log.extra.like(f"%{DAG_ID}%")),
        )
        counts["log_lines"] = lines.count()
        if not dry_run:
            for run in runs:
                # Through the ORM: the relationships cascade to task instances, XCom and rendered fields.
                session.delete(run)
            lines.delete(synchronize_session=False)
    if not dry_run:
        counts["task_log_folders"] = _remove_task_logs(run_ids)
        if counts["runs"] or counts["log_lines"]:
            _vacuum()
    return counts


def _remove_task_logs(run_ids: list[str]) -> int:
    """The runs' folders under the local task-log folder (remote log stores keep their own term)."""
    from airflow.configuration import conf

    base = Path(conf.get("logging", "base_log_folder")) / f"dag_id={DAG_ID}"
    removed = 0
    for run_id in run_ids:
        folder = base / f"run_id={run_id}"
        if folder.is_dir() and base.resolve() in folder.resolve().parents:
            shutil.rmtree(folder)
            removed += 1
    return removed


def _vacuum() -> None:
    """Deleted rows must not linger in the database files (R10)."""
    import sqlalchemy as sa
    from airflow import settings

    engine = settings.engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(sa.text("VACUUM"))
            # In WAL mode the rebuilt pages sit in the -wal file until a checkpoint copies them back.
            conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        elif engine.dialect.name == "postgresql":
            present = set(sa.inspect(conn).get_table_names())
            for table in VACUUMED:
                if table in present:
                    conn.execute(sa.text(f"VACUUM {table}"))


def main(argv: list[str] | None = None) -> int:
    """Purge and print counts; exit 1 when a run has been open longer than the term."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.purge_airflow_metadata", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"term in days (default {DEFAULT_DAYS})")
    parser.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.days < 0:
        parser.error("--days must be 0 or more")
    counts = purge(args.days, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"{DAG_ID}: {verb} {counts['runs']} run(s) ended more than {args.days} day(s) ago, "
        f"{counts['log_lines']} audit-log line(s), {counts['task_log_folders']} task-log folder(s)"
    )
    if counts["runs_still_open"]:
        print(
            f"{DAG_ID}: {counts['runs_still_open']} run(s) queued or running for more than {args.days} day(s): "
            "finish or fail them so their conf can be purged",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
