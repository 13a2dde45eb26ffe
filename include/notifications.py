"""R11: a failed proof or a failed nightly run e-mails the data team.

`notify_failure` is an Airflow notifier: use it as `on_failure_callback` of a DAG (runs in
the dag-processor when a run fails) or of a task (runs on the worker). It is configured by
the Airflow connection `kcm_notify_smtp`: host, port, login, password, and extra
`{"to": [...], "from": "...", "starttls": true|false, "ssl": true|false}`. Without that
connection nothing is sent and a warning says so in the log.

The message names the DAG, run, client, failed task, the rules and counts of a failed proof
and where its report is: ids, rule ids, counts and paths only. Errors other than a failed
proof are named by their type; their message stays in the task log, since an exception
raised by a library cannot be trusted to be free of values.

The SMTP notifier of apache-airflow-providers-smtp is not used: it fails instead of
logging when its connection is absent, and takes the recipients from the DAG file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)

CONN_ID = "kcm_notify_smtp"
_RULE = re.compile(r"\bR(?:[1-9]|1[0-2])\b")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    login: str | None
    password: str | None
    sender: str
    recipients: tuple[str, ...]
    starttls: bool
    ssl: bool
    timeout: float = 30.0


def smtp_settings() -> SmtpSettings | None:
    """The SMTP server and recipients from connection kcm_notify_smtp; None (logged) when it is absent or incomplete."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(CONN_ID)
    except AirflowNotFoundException:
        log.warning("no Airflow connection %s: failure notifications are not e-mailed", CONN_ID)
        return None
    extra = conn.extra_dejson or {}
    recipients = extra.get("to") or []
    if isinstance(recipients, str):
        recipients = [r.strip() for r in recipients.split(",") if r.strip()]
    if not conn.host or not recipients:
        log.warning(
            "connection %s has no host or no 'to' in its extra: failure notifications are not e-mailed", CONN_ID
        )
        return None
    use_ssl = bool(extra.get("ssl", conn.port == 465))
    return SmtpSettings(
        host=conn.host,
        port=int(conn.port or (465 if use_ssl else 25)),
        login=conn.login or None,
        password=conn.password or None,
        sender=extra.get("from") or f"kcm-airflow@{conn.host}",
        recipients=tuple(recipients),
        starttls=bool(extra.get("starttls", False)),
        ssl=use_ssl,
        timeout=float(extra.get("timeout", 30)),
    )


# --- what went wrong ----------------------------------------------------------------------------


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _as_of(context: Mapping[str, Any]) -> dt.date | None:
    from include import terms

    dag_run = context.get("dag_run")
    moment = context.get("logical_date") or _get(dag_run, "logical_date") or _get(dag_run, "run_after")
    return terms.as_of_day(moment) if moment else None


def _task_rules(task: Any) -> list[str]:
    """Rule ids named in the failed task's docstring (every nightly task names the rule it applies)."""
    text = " ".join(
        str(part)
        for part in (_get(task, "doc_md"), _get(task, "doc"), _get(_get(task, "python_callable"), "__doc__"))
        if part
    )
    return sorted(set(_RULE.findall(text)), key=lambda r: int(r[1:]))


def describe(context: Mapping[str, Any]) -> dict[str, Any]:
    """What the message says, from an Airflow callback context: ids, rule ids, counts and paths only."""
    from include import proof, reports

    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id = _get(context.get("dag"), "dag_id") or _get(dag_run, "dag_id") or _get(ti, "dag_id") or "unknown DAG"
    client_id = dag_id.split("__", 1)[1] if "__" in dag_id else None
    as_of = _as_of(context)
    exception = context.get("exception")
    described: dict[str, Any] = {
        "dag_id": dag_id,
        "run_id": context.get("run_id") or _get(dag_run, "run_id") or _get(ti, "run_id"),
        "client_id": client_id,
        "as_of": as_of.isoformat() if as_of else None,
        "task_id": _get(ti, "task_id"),
        "try_number": _get(ti, "try_number"),
        "reason": context.get("reason"),
        "error": type(exception).__name__ if exception else None,
        "failed": [],
        "report_html": None,
        "data_docs": None,
    }
    summary = exception.summary if isinstance(exception, proof.ProofFailed) else None
    if summary is None and client_id and as_of:
        # A DAG-level callback has no exception: the night's evidence says whether the proof failed.
        path = reports.nightly_paths(client_id, as_of)["json"]
        if path.is_file():
            report = json.loads(path.read_text(encoding="utf-8"))
            if not report.get("passed", True) and report.get("run_id") == described["run_id"]:
                summary = {"failed": report["failed"], "report_html": report["evidence"]["report_html"],
                           "data_docs": report["evidence"]["data_docs"]}  # fmt: skip
    if summary:
        described["failed"] = list(summary["failed"])
        described["report_html"] = summary.get("report_html")
        described["data_docs"] = summary.get("data_docs")
    elif client_id and as_of and reports.nightly_paths(client_id, as_of)["html"].is_file():
        described["report_html"] = str(reports.nightly_paths(client_id, as_of)["html"])
    rules = {f["rule"] for f in described["failed"]} | set(_task_rules(_get(ti, "task") or context.get("task")))
    described["rules"] = sorted(rules, key=lambda r: int(r[1:]))
    return described


def compose(described: Mapping[str, Any], sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """The e-mail to the data team."""
    failed = described["failed"]
    subject = f"[KCM] {described['dag_id']} failed"
    if described["as_of"]:
        subject += f" (as of {described['as_of']})"
    if failed:
        subject += f": R11 proof, {len(failed)} expectation(s) failed"
    elif described["task_id"]:
        subject += f": task {described['task_id']}"
    lines = [
        "A KCM run failed. This message holds ids, rule ids and counts only; details are in the task log.",
        "",
        f"DAG:          {described['dag_id']}",
        f"Run:          {described['run_id']}",
        f"Client:       {described['client_id'] or '-'}",
        f"As of:        {described['as_of'] or '-'}",
        f"Failed task:  {described['task_id'] or '-'}"
        + (f" (try {described['try_number']})" if described["try_number"] else ""),
        f"Rules:        {', '.join(described['rules']) or '-'}",
    ]
    if described["reason"]:
        lines.append(f"Reason:       {described['reason']}")
    if described["error"]:
        lines.append(f"Error:        {described['error']}")
    if failed:
        lines += ["", "Failed expectations (rule, table or store: count):"]
        lines += [f"  - {f['rule']} {f['table_or_store']} ({f['check']}): {f['count']}" for f in failed]
    if described["report_html"]:
        lines += ["", f"Report:       {described['report_html']}"]
    if described["data_docs"]:
        lines.append(f"Data Docs:    {described['data_docs']}")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="kcm.local")
    message.set_content("\n".join(lines) + "\n")
    return message


def send(message: EmailMessage, smtp: SmtpSettings) -> None:
    if smtp.ssl:
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                                context=ssl.create_default_context())  # fmt: skip
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        if smtp.starttls and not smtp.ssl:
            client.starttls(context=ssl.create_default_context())
        if smtp.login:
            client.login(smtp.login, smtp.password or "")
        client.send_message(message, from_addr=smtp.sender, to_addrs=list(smtp.recipients))


class FailureNotifier(BaseNotifier):
    """E-mail the data team about a failed run or task (on_failure_callback); silent but logged without SMTP."""

    def render_template_fields(self, context: Mapping[str, Any], jinja_env: Any = None) -> None:
        # Nothing to template; and a run's serialised DAG (dag.test) has no template environment to ask.
        if self.template_fields:
            super().render_template_fields(context, jinja_env)

    def notify(self, context: Mapping[str, Any]) -> None:
        described = describe(context)
        smtp = smtp_settings()
        if smtp is None:
            log.warning("failure of %s run %s (task %s) not e-mailed: no SMTP configured",
                        described["dag_id"], described["run_id"], described["task_id"])  # fmt: skip
            return
        send(compose(described, smtp.sender, smtp.recipients), smtp)
        log.info("failure of %s run %s e-mailed to %d recipient(s)",
                 described["dag_id"], described["run_id"], len(smtp.recipients))  # fmt: skip


notify_failure = FailureNotifier()
