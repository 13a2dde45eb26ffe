"""
# Data-subject requests (R6, R7)

`kcm_subject_request` answers one request of a person: **access**, **export**
(machine-readable, recordings included), **rectification**, **erasure** or
**objection** (erasure plus the suppression list, so later deliveries drop the
person). Trigger it from the form, or with the same fields as JSON:

```
airflow dags test kcm_subject_request 2026-11-20 -c '{"client": "all", "request_type": "access",
  "email": "jan@example.nl", "received_on": "2026-11-18"}'
```

1. `validate_request` refuses bad input before anything changes (unknown client, no
   identifier, a field that cannot be rectified, a value that fails the ingest's checks).
2. `record_request` records it with its due date (receipt + 1 calendar month) under a
   keyed hash of the identifiers; the warehouse never holds the identifiers themselves.
3. `carry_out_request` answers it in every client in scope and marks it done. Exports
   land in `KCM_HOME/exports/<request_id>/` and are deleted after 30 days.

The identifiers live only in this run's conf; `scripts/purge_airflow_metadata.py`
deletes finished runs of this DAG and their audit-log lines after 7 days.

`kcm_subject_request_due` checks every morning that no request is open past its due
date (it fails loudly when one is) and writes `KCM_HOME/reports/subject_requests_open.csv`.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param, get_current_context, get_parsing_context, task

from include import config, steps
from include.subject_requests import ALL_CLIENTS_CHOICE, REQUEST_TYPES, rectifiable_fields

START = pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam")
DUE_CHECK_SCHEDULE = "0 7 * * *"
# How long a changing request waits in its task for its clients' runs to finish before it fails
# (and is retried): ingest and nightly runs take minutes, the request's term a month.
REQUEST_LEASE_WAIT = dt.timedelta(hours=1)


def _run() -> tuple[str, dt.date, dict]:
    """The run id, as-of day (design §4) and form fields of the running task."""
    from include import terms

    context = get_current_context()
    moment = context.get("logical_date") or context["dag_run"].run_after
    return context["run_id"], terms.as_of_day(moment), dict(context["params"])


def _request():
    from include import subject_requests

    run_id, as_of, params = _run()
    clients, _errors = config.load_clients()
    return subject_requests.parse(params, as_of=as_of, clients=clients), clients, run_id, as_of


@task(retries=0)
def validate_request() -> dict:
    """R6: refuse bad input before anything changes; returns what the request is (kinds and names, no values)."""
    request, _clients, _run_id, _as_of = _request()
    return request.summary()


@task
def record_request(summary: dict) -> str:
    """R6: record the request and its due date (receipt + 1 calendar month) under a keyed hash."""
    from include import subject_requests, warehouse

    request, _clients, run_id, as_of = _request()
    return subject_requests.record(warehouse.engine(), request, run_id=run_id, as_of=as_of)


@task
def carry_out_request(request_id: str) -> dict:
    """R6/R7: answer the request in every client in scope and mark it done (counts only).

    A request that changes data holds the leases of the clients in scope meanwhile, so no ingest
    or nightly run of theirs works beside it (design §6).
    """
    from include import lease, subject_requests, warehouse

    request, clients, run_id, as_of = _request()
    eng = warehouse.engine()
    if request.request_type not in subject_requests.CHANGING_TYPES:
        return subject_requests.carry_out(eng, request, request_id, run_id=run_id, as_of=as_of, clients=clients)
    in_scope = [request.client_id] if request.client_id else [c.client_id for c in clients]
    holder = lease.Holder(get_current_context()["ti"].dag_id, run_id)
    with lease.held_all(eng, in_scope, holder, wait=REQUEST_LEASE_WAIT, poke_seconds=steps.lease_poke_seconds()):
        return subject_requests.carry_out(eng, request, request_id, run_id=run_id, as_of=as_of, clients=clients)


def _client_choices() -> list[str]:
    clients, _errors = config.load_clients()
    return [ALL_CLIENTS_CHOICE, *(c.client_id for c in clients)]


_IDENTIFIER_HELP = "Compared after normalising (case and spaces; phone numbers to E.164)."


def request_dag() -> DAG:
    """The manual request DAG: its Params are the trigger form; the same keys work as --conf JSON."""
    with DAG(
        dag_id="kcm_subject_request",
        description="Answer a data-subject request: access, export, rectification, erasure, objection (R6, R7)",
        doc_md=__doc__,
        schedule=None,
        start_date=START,
        catchup=False,
        default_args=steps.default_args(),
        tags=["kcm", "subject-request"],
        params={
            "client": Param(
                ALL_CLIENTS_CHOICE,
                type="string",
                enum=_client_choices(),
                title="Client",
                description="The client whose data the request is about, or 'all' to search every client.",
            ),
            "request_type": Param(
                type="string",
                enum=list(REQUEST_TYPES),
                title="Request type",
                description="access: copy of the data; export: machine-readable, with recordings; rectification: "
                "correct fields; erasure: delete everything; objection: erase and keep out of later deliveries (R7).",
                values_display={
                    "access": "Access (GDPR art. 15)",
                    "export": "Export (art. 20, with recordings)",
                    "rectification": "Rectification (art. 16)",
                    "erasure": "Erasure (art. 17)",
                    "objection": "Objection / opt-out (art. 21, R7)",
                },
            ),
            "email": Param(None, type=["null", "string"], title="E-mail", description=_IDENTIFIER_HELP),
            "phone": Param(
                None,
                type=["null", "string"],
                title="Phone",
                description=_IDENTIFIER_HELP
                + " National numbers are read in the client's country (NL for all clients).",
            ),
            "respondent_ref": Param(
                None,
                type=["null", "string"],
                title="Respondent ref",
                description="The client's key for the person (needs a client, not 'all'). " + _IDENTIFIER_HELP,
            ),
            "customer_number": Param(
                None,
                type=["null", "string"],
                title="Customer number",
                description="The client's customer number (needs a client, not 'all'). " + _IDENTIFIER_HELP,
            ),
            "received_on": Param(
                type="string",
                format="date",
                title="Received on",
                description="The day KCM received the request; it is due one calendar month later.",
            ),
            "new_values": Param(
                {},
                type="object",
                title="New values (rectification only)",
                description='JSON object of field to corrected value, e.g. {"phone": "06-12345678"}. Rectifiable: '
                + ", ".join(rectifiable_fields()),
            ),
        },
    ) as dag:
        carry_out_request(record_request(validate_request()))
    return dag


@task
def check_due_dates() -> dict:
    """R6: list open requests and their due dates; fail loudly when one is open past its due date."""
    from include import subject_requests, warehouse

    run_id, as_of, _params = _run()
    return subject_requests.check_due(warehouse.engine(), as_of=as_of, run_id=run_id)


DUE_CHECK_DOC = """# Subject-request due dates (R6)

Every morning at 07:00 Europe/Amsterdam: lists every open request with its due date
(task log and `KCM_HOME/reports/subject_requests_open.csv`), warns about those due
within 7 days, and **fails** when any request is open past its due date.
"""


def due_check_dag() -> DAG:
    """The daily R6 check of due dates."""
    with DAG(
        dag_id="kcm_subject_request_due",
        description="Daily R6 check: no subject request open past its due date",
        doc_md=DUE_CHECK_DOC,
        schedule=CronTriggerTimetable(DUE_CHECK_SCHEDULE, timezone="Europe/Amsterdam"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args={**steps.default_args(), "retries": 0},
        tags=["kcm", "subject-request"],
    ) as dag:
        check_due_dates()
    return dag


def build() -> dict[str, DAG]:
    """The DAGs of this file; a task run of any other DAG builds none of them."""
    builders = {"kcm_subject_request": request_dag, "kcm_subject_request_due": due_check_dag}
    wanted = get_parsing_context().dag_id
    return {dag_id: builder() for dag_id, builder in builders.items() if not wanted or wanted == dag_id}


globals().update(build())
