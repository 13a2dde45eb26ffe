"""
# Auditor reports

Monthly, on the 1st at 04:00 Europe/Amsterdam, for the month before the run's as-of day:

- the **register of processing** (R8; GDPR art. 30(2)), rendered from the data map and
  the client configs: `reports/register.html` and `register.md`;
- a **monthly report per client** (R11, R12): every night's proof and counts, and for each
  assignment its completion, term and when it was anonymised or destroyed — on time or
  not: `reports/<client_id>/monthly/<yyyy-mm>.html` and `.json`.

Reports hold counts, ids and dates only, never personal data.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, get_current_context, task

from include import steps
from include.notifications import notify_failure


def _reported_month() -> tuple[int, int]:
    from include import terms

    context = get_current_context()
    as_of = terms.as_of_day(context.get("logical_date") or context["dag_run"].run_after)
    first = terms.add_months(as_of.replace(day=1), -1)
    return first.year, first.month


@task
def render_register() -> dict:
    """R8: write the register of processing from the data map and the client configs."""
    from include import register

    return {kind: str(path) for kind, path in register.write().items()}


@task
def monthly_reports() -> dict:
    """R11/R12: one report per client for the month before the as-of day."""
    from include import config, reports, sync, warehouse

    year, month = _reported_month()
    clients, _errors = config.load_clients()
    eng = warehouse.engine()
    for client in clients:
        # The report states each assignment's term as the current config sets it, nights run or not.
        sync.apply_config(eng, client)
        reports.monthly_report(eng, client.client_id, year, month)
    return {"month": f"{year:04d}-{month:02d}", "clients": len(clients)}


with DAG(
    dag_id="kcm_audit_report",
    description="Monthly auditor reports and the register of processing",
    doc_md=__doc__,
    schedule=CronTriggerTimetable("0 4 1 * *", timezone="Europe/Amsterdam"),
    start_date=pendulum.datetime(2026, 12, 1, tz="Europe/Amsterdam"),
    catchup=True,
    max_active_runs=1,
    default_args=steps.default_args(),
    on_failure_callback=notify_failure,
    tags=["kcm", "audit"],
):
    render_register() >> monthly_reports()
