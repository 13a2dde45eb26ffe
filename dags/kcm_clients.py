"""
# KCM client DAGs

One set of DAGs per client config in `KCM_CLIENTS_DIR` (default `include/clients/`):

- `kcm_ingest__<client_id>`: picks up the client's deliveries from
  `landing/<client_id>/`, validates them, loads them, quarantines what is bad.
- `kcm_retention__<client_id>`: nightly at 02:00 Europe/Amsterdam, anonymises what
  reached its term (R2, R9), deletes non-respondents (R3) and destroyed data (R4),
  purges expired files (R10) and checks the audit trail (R12).
- `kcm_config_error__<file>`: stands in for a config that does not validate (R1):
  tagged `config-error`, its docs carry the error, and it fails when triggered.

The logic lives in `include/`; this file only reads configs and wires tasks. No
database or network access happens at parse time.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, TriggerRule, get_current_context, get_parsing_context, task

from include import config
from include.config import ClientConfig, ConfigError

OWNER = "kcm-data"
START = pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam")
RETENTION_SCHEDULE = "0 2 * * *"
# First nightly retention run of a client without `onboarded_on` in its config.
RETENTION_START = dt.date(2026, 12, 1)
DEFAULT_ARGS = {"owner": OWNER, "retries": 2, "retry_delay": dt.timedelta(minutes=5)}


def _run() -> tuple[str, dt.date]:
    """The run id and as-of day (design §4) of the running task."""
    from include import terms

    context = get_current_context()
    moment = context.get("logical_date") or context["dag_run"].run_after
    return context["run_id"], terms.as_of_day(moment)


@task
def sync_config(client_id: str) -> dict[str, int]:
    """Apply the client's current YAML to the warehouse (assignments, terms, destruction requests)."""
    from include import sync, warehouse

    return sync.apply_config(warehouse.engine(), config.get_client(client_id))


@task
def find_responses(client_id: str) -> list[str]:
    """List the responses CSVs waiting in landing/<client_id>/ (names only)."""
    from include.ingest import landing

    return landing.find(client_id).responses


@task(trigger_rule=TriggerRule.NONE_FAILED)
def find_manifests(client_id: str) -> list[str]:
    """List the recordings manifests waiting in landing/<client_id>/ (names only)."""
    from include.ingest import landing

    return landing.find(client_id).manifests


@task(max_active_tis_per_dagrun=1)
def load_responses(client_id: str, file_name: str) -> dict:
    """Validate one responses CSV with Great Expectations and load it; bad rows go to quarantine."""
    from include import warehouse
    from include.ingest import responses

    run_id, as_of = _run()
    return responses.ingest_file(warehouse.engine(), config.get_client(client_id), file_name, run_id=run_id, as_of=as_of)


@task(max_active_tis_per_dagrun=1)
def load_recordings(client_id: str, file_name: str) -> dict:
    """Check one recordings manifest against its WAV files and store the recordings."""
    from include import warehouse
    from include.ingest import recordings

    run_id, as_of = _run()
    return recordings.ingest_manifest(warehouse.engine(), config.get_client(client_id), file_name, run_id=run_id, as_of=as_of)


@task(trigger_rule=TriggerRule.NONE_FAILED)
def sweep_landing(client_id: str) -> dict:
    """Quarantine what no manifest or contract explains (unknown files, WAVs left over for 7 days)."""
    from include import warehouse
    from include.ingest import recordings

    run_id, as_of = _run()
    return recordings.sweep_landing(warehouse.engine(), config.get_client(client_id), run_id=run_id, as_of=as_of)


@task(trigger_rule=TriggerRule.NONE_FAILED)
def summarise_ingest(client_id: str) -> dict:
    """Log what this run delivered, loaded and quarantined (counts and reason codes only)."""
    from include import warehouse
    from include.ingest import summary

    run_id, as_of = _run()
    return summary.summarise_run(warehouse.engine(), client_id, run_id=run_id, as_of=as_of)


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
Schedule `{client.ingest_schedule}` (Europe/Amsterdam).
""",
        schedule=CronTriggerTimetable(client.ingest_schedule, timezone="Europe/Amsterdam"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["kcm", "ingest", f"client:{client.client_id}"],
    ) as dag:
        synced = sync_config(client.client_id)
        response_files = find_responses(client.client_id)
        loaded = load_responses.partial(client_id=client.client_id).expand(file_name=response_files)
        # Manifests are listed after the responses load: recordings link to loaded respondents.
        manifest_files = find_manifests(client.client_id)
        stored = load_recordings.partial(client_id=client.client_id).expand(file_name=manifest_files)
        swept = sweep_landing(client.client_id)
        synced >> response_files
        loaded >> manifest_files
        stored >> swept >> summarise_ingest(client.client_id)
    return dag


@task
def finish_deletions(client_id: str) -> dict[str, int]:
    """R10: finish every recording an earlier run marked 'deleting' (file, then row)."""
    from include import retention, warehouse

    run_id, as_of = _run()
    return retention.finish_deletions(warehouse.engine(), client_id, as_of=as_of, run_id=run_id)


@task
def destroy_requested(client_id: str) -> dict[str, int]:
    """R4: delete outright the assignments (or whole client) whose destruction was requested by the as-of day."""
    from include import retention, warehouse

    run_id, as_of = _run()
    client = config.get_client(client_id)
    return retention.destroy_requested(warehouse.engine(), client, as_of=as_of, run_id=run_id)


@task
def delete_non_respondents(client_id: str) -> dict[str, int]:
    """R3: delete invited people who never answered, once the non-respondent term has passed."""
    from include import retention, warehouse

    run_id, as_of = _run()
    client = config.get_client(client_id)
    return retention.delete_non_respondents(warehouse.engine(), client, as_of=as_of, run_id=run_id)


@task
def anonymise_due(client_id: str) -> dict[str, int]:
    """R2: anonymise every assignment whose term ended on or before the as-of day (R9, data map)."""
    from include import retention, warehouse

    run_id, as_of = _run()
    client = config.get_client(client_id)
    return retention.anonymise_due(warehouse.engine(), client, as_of=as_of, run_id=run_id)


@task
def enforce_k_anonymity(client_id: str) -> dict[str, int]:
    """R9: generalise or suppress until the client's anonymised respondents are k-anonymous."""
    from include import retention, warehouse

    run_id, as_of = _run()
    client = config.get_client(client_id)
    return retention.enforce_k_anonymity(warehouse.engine(), client, as_of=as_of, run_id=run_id)


@task
def purge_expired_files(client_id: str) -> dict[str, int]:
    """R10: purge quarantined items at their term and exports older than 30 days."""
    from include import retention, warehouse

    run_id, as_of = _run()
    client = config.get_client(client_id)
    return retention.purge_expired_files(warehouse.engine(), client, as_of=as_of, run_id=run_id)


@task
def vacuum_touched(client_id: str) -> dict:
    """R10: VACUUM (PostgreSQL) the tables tonight changed, so deleted data does not linger."""
    from include import retention, warehouse

    run_id, as_of = _run()
    return retention.vacuum_touched(warehouse.engine(), client_id, as_of=as_of, run_id=run_id)


@task(retries=0)
def verify_audit() -> dict:
    """R12: fail when the audit trail's hash chain is broken (a retry cannot mend it)."""
    from include import retention, warehouse

    return retention.verify_audit(warehouse.engine())


def retention_dag(client: ClientConfig) -> DAG:
    onboarded = client.onboarded_on or RETENTION_START
    with DAG(
        dag_id=f"kcm_retention__{client.client_id}",
        description=f"Nightly retention of {client.name}: anonymise at term, delete, purge, audit",
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
8. **R12** checks the audit trail's hash chain.

Missed nights are caught up in order from {onboarded.isoformat()} (`onboarded_on`).
Every step is idempotent: retrying a task or a night is safe.
""",
        schedule=CronTriggerTimetable(RETENTION_SCHEDULE, timezone="Europe/Amsterdam"),
        start_date=pendulum.datetime(onboarded.year, onboarded.month, onboarded.day, tz="Europe/Amsterdam"),
        catchup=True,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["kcm", "retention", f"client:{client.client_id}"],
    ) as dag:
        client_id = client.client_id
        (
            sync_config(client_id)
            >> finish_deletions(client_id)
            >> destroy_requested(client_id)
            >> delete_non_respondents(client_id)
            >> anonymise_due(client_id)
            >> enforce_k_anonymity(client_id)
            >> purge_expired_files(client_id)
            >> vacuum_touched(client_id)
            >> verify_audit()
        )
    return dag


@task
def refuse_broken_config(message: str) -> None:
    """Fail loudly: this client's config does not validate, so nothing may run for it."""
    raise ValueError(message)


def config_error_dag(error: ConfigError) -> DAG:
    with DAG(
        dag_id=f"kcm_config_error__{error.stem}",
        description="Client config does not validate: nothing runs for this client",
        doc_md=f"# Client config error\n\nThis client's DAGs are not generated until its config is fixed.\n\n```\n{error.message}\n```\n",
        schedule=None,
        start_date=START,
        catchup=False,
        default_args={**DEFAULT_ARGS, "retries": 0},
        tags=["kcm", "config-error"],
    ) as dag:
        refuse_broken_config(error.message)
    return dag


def build() -> dict[str, DAG]:
    """All DAGs of this file; a task run builds only its own DAG."""
    wanted = get_parsing_context().dag_id
    builders = {"kcm_ingest__": ingest_dag, "kcm_retention__": retention_dag}
    for prefix, builder in builders.items():
        if wanted and wanted.startswith(prefix):
            try:
                client = config.get_client(wanted.removeprefix(prefix))
            except (KeyError, ValueError):
                break
            return {wanted: builder(client)}
    clients, errors = config.load_clients()
    dags = {f"{prefix}{c.client_id}": builder(c) for prefix, builder in builders.items() for c in clients}
    dags.update({f"kcm_config_error__{e.stem}": config_error_dag(e) for e in errors})
    return dags


globals().update(build())
