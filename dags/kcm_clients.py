"""
# KCM client DAGs

One set of DAGs per client config in `KCM_CLIENTS_DIR` (default `include/clients/`):

- `kcm_ingest__<client_id>`: picks up the client's deliveries from
  `landing/<client_id>/`, validates them, loads them, quarantines what is bad.
- `kcm_retention__<client_id>`: nightly at 02:00 Europe/Amsterdam, anonymises what
  reached its term (R2, R9), deletes non-respondents (R3) and destroyed data (R4),
  purges expired files (R10), checks the audit trail (R12) and ends with the proof (R11).
- `kcm_config_error__<file>`: stands in for a config that does not validate (R1):
  tagged `config-error`, its docs carry the error, and it fails when triggered.

One client, one run at a time (design §6): every run of a client's two DAGs starts by
taking the client's lease (`acquire_lease`, waiting while the other DAG's run holds it)
and ends by giving it back (`release_lease`).

The steps live in `include/steps.py`; this file only reads configs and wires them.
No database or network access happens at parse time.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, TriggerRule, chain, get_parsing_context

from include import config, steps
from include.config import ClientConfig, ConfigError
from include.notifications import notify_failure

START = pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam")
RETENTION_SCHEDULE = "0 2 * * *"
# First nightly retention run of a client without `onboarded_on` in its config.
RETENTION_START = dt.date(2026, 12, 1)


def under_lease(client_id: str, names: tuple[str, ...]) -> None:
    """The run's steps in order, between taking the client's lease and giving it back (design §6)."""
    acquire = steps.AcquireLease(task_id="acquire_lease", client_id=client_id)
    release = steps.ReleaseLease(task_id="release_lease", client_id=client_id)
    chain(acquire, *(steps.ClientStep(task_id=name, client_id=client_id) for name in names), release)
    # As a teardown the release leaves the run's state to its steps (a failed proof fails the night),
    # and clearing a step in the UI clears the lease tasks with it, so the step runs under the lease again.
    release.as_teardown(setups=acquire)
    # Give the lease back whatever happened, even after a take that committed but failed to report.
    release.trigger_rule = TriggerRule.ALL_DONE


def ingest_dag(client: ClientConfig) -> DAG:
    with DAG(
        dag_id=f"kcm_ingest__{client.client_id}",
        description=f"Ingest deliveries of {client.name}",
        doc_md=f"""# Ingest — {client.name} (`{client.client_id}`)

Picks up every delivery in `landing/{client.client_id}/` (responses CSVs, recordings
manifests and their WAV files), validates it with Great Expectations and loads it
into the warehouse. Bad rows and unreadable files go to quarantine with a reason;
raw files leave the landing zone once handled (R10).

Country {client.country}; retention {client.retention_months} months after completion (R2);
non-respondents deleted after {client.non_respondent_months} months (R3).
Schedule `{client.ingest_schedule}` (Europe/Amsterdam). Runs under the client's lease:
it waits while the client's nightly run works, and the night waits for it.
""",
        schedule=CronTriggerTimetable(client.ingest_schedule, timezone="Europe/Amsterdam"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=steps.default_args(),
        on_failure_callback=notify_failure,
        tags=["kcm", "ingest", f"client:{client.client_id}"],
    ) as dag:
        under_lease(client.client_id, steps.INGEST)
    return dag


def retention_dag(client: ClientConfig) -> DAG:
    onboarded = client.onboarded_on or RETENTION_START
    with DAG(
        dag_id=f"kcm_retention__{client.client_id}",
        description=f"Nightly retention of {client.name}: anonymise at term, delete, purge, audit, prove",
        doc_md=f"""# Nightly retention — {client.name} (`{client.client_id}`)

Every night at 02:00 Europe/Amsterdam, for the night's as-of day (the run's logical
date as a calendar day in Europe/Amsterdam, never the wall clock):

1. applies the client's current config (assignments, terms, destruction requests);
2. finishes recordings an earlier run left marked for deletion;
3. **R4** deletes assignments (or the whole client) whose destruction was requested;
4. **R3** deletes people invited at least {client.non_respondent_months} month(s) ago who never answered;
5. **R2/R9** anonymises assignments {client.retention_months} month(s) after completion, as the
   data map says (open text: {client.open_text}), and deletes their recordings;
6. **R9** makes the anonymised respondents {client.k_anonymity}-anonymous;
7. **R10** purges quarantined items and exports at their terms, vacuums what changed;
8. **R12** checks the audit trail's hash chain;
9. **R11** proves that nothing outlived its term and writes the evidence under `reports/`.

Missed nights are caught up in order from {onboarded.isoformat()} (`onboarded_on`).
Every step is idempotent: retrying a task or a night is safe. The night runs under the
client's lease (`acquire_lease` … `release_lease`): no ingest of the client runs between
its steps.
""",
        schedule=CronTriggerTimetable(RETENTION_SCHEDULE, timezone="Europe/Amsterdam"),
        start_date=pendulum.datetime(onboarded.year, onboarded.month, onboarded.day, tz="Europe/Amsterdam"),
        catchup=True,
        max_active_runs=1,
        default_args=steps.default_args(),
        on_failure_callback=notify_failure,
        tags=["kcm", "retention", f"client:{client.client_id}"],
    ) as dag:
        under_lease(client.client_id, steps.RETENTION)
    return dag


def config_error_dag(error: ConfigError) -> DAG:
    with DAG(
        dag_id=f"kcm_config_error__{error.stem}",
        description="Client config does not validate: nothing runs for this client",
        doc_md=f"# Client config error\n\nThis client's DAGs are not generated until its config is fixed.\n\n```\n{error.message}\n```\n",
        schedule=None,
        start_date=START,
        catchup=False,
        default_args={**steps.default_args(), "retries": 0},
        tags=["kcm", "config-error"],
    ) as dag:
        steps.RefuseBrokenConfig(task_id="refuse_broken_config", message=error.message)
    return dag


BUILDERS = {"kcm_ingest__": ingest_dag, "kcm_retention__": retention_dag}


def build() -> dict[str, DAG]:
    """All DAGs of this file, sorted by client; a task run builds only its own DAG."""
    wanted = get_parsing_context().dag_id
    for prefix, builder in BUILDERS.items():
        if wanted and wanted.startswith(prefix):
            try:
                client = config.get_client(wanted.removeprefix(prefix))
            except (KeyError, ValueError):
                break
            return {wanted: builder(client)}
    clients, errors = config.load_clients()
    dags = {f"{prefix}{c.client_id}": builder(c) for prefix, builder in BUILDERS.items() for c in clients}
    dags.update({f"kcm_config_error__{e.stem}": config_error_dag(e) for e in errors})
    return dags


globals().update(build())
