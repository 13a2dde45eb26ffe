"""The steps the client DAGs run, the one operator that runs them, and the client's lease around them.

Each step is a function of (client_id, run) in this module that calls into the
domain library and returns counts — never rows — for XCom. `ClientStep` is a plain
operator naming its step: a DAG with hundreds of clients parses in milliseconds per
client (TaskFlow decorators cost several times more per task), and a step can be
tested without Airflow.

One client, one run at a time (design §6): every run of a client's DAGs starts with
`AcquireLease`, which waits for the client's lease without holding a worker slot, and
ends with `ReleaseLease`; each `ClientStep` proves its run still holds the lease
before it starts (include/lease.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseOperator, BaseSensorOperator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Run:
    """What a step knows of its DAG run: the id and the as-of day (design §4)."""

    run_id: str
    as_of: dt.date


Step = Callable[[str, Run], dict]
STEPS: dict[str, Step] = {}


def step(function: Step) -> Step:
    STEPS[function.__name__] = function
    return function


def _engine():
    from include import warehouse

    return warehouse.engine()


def _client(client_id: str):
    from include import config

    return config.get_client(client_id)


# --- both DAGs ---------------------------------------------------------------------------


@step
def sync_config(client_id: str, run: Run) -> dict:
    """Apply the client's current YAML to the warehouse: assignments, terms, destruction requests."""
    from include import sync

    return sync.apply_config(_engine(), _client(client_id))


# --- ingest ------------------------------------------------------------------------------


@step
def collect_deliveries(client_id: str, run: Run) -> dict:
    """Move deliveries from the client's object-storage landing zone (s3://) into its landing folder; nothing to do when local."""
    from include.ingest import landing

    return landing.collect(client_id)


@step
def load_responses(client_id: str, run: Run) -> dict:
    """Validate each responses CSV in the landing zone with Great Expectations and load it; bad rows go to quarantine."""
    from include.ingest import landing, responses

    eng, client = _engine(), _client(client_id)
    files = [responses.ingest_file(eng, client, name, run_id=run.run_id, as_of=run.as_of)
             for name in landing.find(client_id).responses]  # fmt: skip
    return {"files": len(files), "rows_loaded": sum(f["rows_loaded"] for f in files),
            "rows_quarantined": sum(f["rows_quarantined"] for f in files)}  # fmt: skip


@step
def load_recordings(client_id: str, run: Run) -> dict:
    """Check each recordings manifest against its WAV files and store the recordings (after the responses: they link to respondents)."""
    from include.ingest import landing, recordings

    eng, client = _engine(), _client(client_id)
    files = [recordings.ingest_manifest(eng, client, name, run_id=run.run_id, as_of=run.as_of)
             for name in landing.find(client_id).manifests]  # fmt: skip
    return {"files": len(files), "rows_loaded": sum(f.get("rows_loaded", 0) for f in files),
            "rows_quarantined": sum(f.get("rows_quarantined", 0) for f in files)}  # fmt: skip


@step
def sweep_landing(client_id: str, run: Run) -> dict:
    """Quarantine what no manifest or contract explains: unknown files at once, WAVs without a manifest after 7 days."""
    from include.ingest import recordings

    return recordings.sweep_landing(_engine(), _client(client_id), run_id=run.run_id, as_of=run.as_of)


@step
def summarise_ingest(client_id: str, run: Run) -> dict:
    """Log what this run delivered, loaded and quarantined (counts and reason codes only)."""
    from include.ingest import summary

    return summary.summarise_run(_engine(), client_id, run_id=run.run_id, as_of=run.as_of)


# --- nightly retention -------------------------------------------------------------------


@step
def finish_deletions(client_id: str, run: Run) -> dict:
    """R10: finish every recording an earlier run marked for deletion (file first, then row)."""
    from include import retention

    return retention.finish_deletions(_engine(), client_id, as_of=run.as_of, run_id=run.run_id)


@step
def destroy_requested(client_id: str, run: Run) -> dict:
    """R4: delete outright the assignments (or whole client) whose destruction was requested by the as-of day."""
    from include import retention

    return retention.destroy_requested(_engine(), _client(client_id), as_of=run.as_of, run_id=run.run_id)


@step
def delete_non_respondents(client_id: str, run: Run) -> dict:
    """R3: delete invited people who never answered, once the non-respondent term has passed."""
    from include import retention

    return retention.delete_non_respondents(_engine(), _client(client_id), as_of=run.as_of, run_id=run.run_id)


@step
def anonymise_due(client_id: str, run: Run) -> dict:
    """R2/R9: anonymise every assignment whose term ended on or before the as-of day, as the data map says."""
    from include import retention

    return retention.anonymise_due(_engine(), _client(client_id), as_of=run.as_of, run_id=run.run_id)


@step
def enforce_k_anonymity(client_id: str, run: Run) -> dict:
    """R9: generalise or suppress until the client's anonymised respondents are k-anonymous."""
    from include import retention

    return retention.enforce_k_anonymity(_engine(), _client(client_id), as_of=run.as_of, run_id=run.run_id)


@step
def purge_expired_files(client_id: str, run: Run) -> dict:
    """R10: purge quarantined items and exports at their terms."""
    from include import retention

    return retention.purge_expired_files(_engine(), _client(client_id), as_of=run.as_of, run_id=run.run_id)


@step
def vacuum_touched(client_id: str, run: Run) -> dict:
    """R10: VACUUM (PostgreSQL) the tables tonight changed, so deleted data does not linger."""
    from include import retention

    return retention.vacuum_touched(_engine(), client_id, as_of=run.as_of, run_id=run.run_id)


@step
def verify_audit(client_id: str, run: Run) -> dict:
    """R12: fail when the audit trail's hash chain is broken."""
    from include import retention

    return retention.verify_audit(_engine())


@step
def prove(client_id: str, run: Run) -> dict:
    """R11: prove with Great Expectations that nothing outlived its term tonight; write the evidence; fail if not."""
    from include import proof

    summary = proof.prove(_engine(), _client(client_id), run.as_of, run.run_id)
    log.info("proof passed: %s expectations; report %s", summary.get("expectations"), summary.get("report_html"))
    return summary


INGEST = ("sync_config", "collect_deliveries", "load_responses", "load_recordings", "sweep_landing", "summarise_ingest")
RETENTION = (
    "sync_config",
    "finish_deletions",
    "destroy_requested",
    "delete_non_respondents",
    "anonymise_due",
    "enforce_k_anonymity",
    "purge_expired_files",
    "vacuum_touched",
    "verify_audit",
    "prove",
)


def default_args() -> dict[str, Any]:
    """Owner and retries of every client task; KCM_TASK_RETRIES / KCM_RETRY_DELAY_SECONDS override."""
    return {
        "owner": "kcm-data",
        "retries": int(os.environ.get("KCM_TASK_RETRIES", "2")),
        "retry_delay": dt.timedelta(seconds=int(os.environ.get("KCM_RETRY_DELAY_SECONDS", "300"))),
    }


# A broken audit chain or a failed proof is a finding, not a glitch: a retry cannot mend it
# and would only delay the alert.
NO_RETRIES = frozenset({"verify_audit", "prove"})


class ClientStep(BaseOperator):
    """Runs one step of this module for one client; its task id is the step's name."""

    ui_color = "#dbe9f6"

    def __init__(self, *, client_id: str, **kwargs: Any) -> None:
        if kwargs.get("task_id") in NO_RETRIES:
            kwargs["retries"] = 0
        super().__init__(**kwargs)
        if self.task_id not in STEPS:
            raise ValueError(f"unknown step {self.task_id!r}; known: {', '.join(sorted(STEPS))}")
        self.client_id = client_id
        self.doc_md = STEPS[self.task_id].__doc__

    def execute(self, context: Any) -> dict:
        from include import lease, terms

        moment = context.get("logical_date") or context["dag_run"].run_after
        with lease.held(_engine(), self.client_id, _holder(context)):
            return STEPS[self.task_id](self.client_id, Run(context["run_id"], terms.as_of_day(moment)))


def _holder(context: Any):
    from include import lease

    return lease.Holder(context["ti"].dag_id, context["run_id"])


def lease_poke_seconds() -> float:
    """How often a run waiting for its client's lease looks again (env KCM_LEASE_POKE_SECONDS, default 60)."""
    raw = os.environ.get("KCM_LEASE_POKE_SECONDS") or "60"
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"KCM_LEASE_POKE_SECONDS must be a number of seconds; found {raw!r}") from None


# A run waits at most this long for the lease; longer means a run of the client is stuck, and the
# failure (mailed like any other) says so.
LEASE_WAIT = dt.timedelta(hours=24)


class AcquireLease(BaseSensorOperator):
    """One client, one run at a time (design §6): wait until the client's lease is free, lapsed or already this run's, and take it.

    Waits in reschedule mode: between looks the task gives its worker slot back.
    """

    ui_color = "#e8e2f4"

    def __init__(self, *, client_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", lease_poke_seconds())
        kwargs.setdefault("timeout", LEASE_WAIT)
        super().__init__(**kwargs)
        self.client_id = client_id
        self.doc_md = AcquireLease.__doc__

    def poke(self, context: Any) -> bool:
        import sqlalchemy as sa

        from include import lease

        eng = _engine()
        try:
            return lease.acquire(eng, self.client_id, _holder(context))
        except sa.exc.OperationalError as exc:
            # SQLite has one writer: while the other run writes, looking at the lease is just another wait.
            if eng.dialect.name == "sqlite" and "locked" in str(exc.orig):
                log.info("client %s: the warehouse is busy; looking at the lease again later", self.client_id)
                return False
            raise


class ReleaseLease(BaseOperator):
    """One client, one run at a time (design §6): give the client's lease back, if this run still holds it."""

    ui_color = "#e8e2f4"

    def __init__(self, *, client_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.client_id = client_id
        self.doc_md = ReleaseLease.__doc__

    def execute(self, context: Any) -> dict:
        from include import lease

        return {"released": lease.release(_engine(), self.client_id, _holder(context))}


class RefuseBrokenConfig(BaseOperator):
    """Fails loudly: a client's config does not validate, so nothing may run for it (R1)."""

    ui_color = "#f6d6d6"

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def execute(self, context: Any) -> None:
        raise ValueError(self.message)
