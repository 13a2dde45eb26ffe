"""R11: a failed proof or nightly run e-mails the data team through the SMTP server of connection
kcm_notify_smtp (here a local one the test starts), naming DAG, run, client, task, rule and counts."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
from email import message_from_bytes, policy

import pendulum
import pytest
import sqlalchemy as sa

from include import notifications, proof
from tests.retention_night import PAST_TERM, client_config, populated


class Inbox:
    """A local SMTP server (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


@pytest.fixture
def inbox(monkeypatch):
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    connection = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"to": ["datateam@kcm.example", "privacy@kcm.example"], "from": "airflow@kcm.example"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_KCM_NOTIFY_SMTP", json.dumps(connection))
    yield handler
    controller.stop()


@pytest.fixture
def failed_night(warehouse, clients_dir):
    """A night whose proof fails: an anonymised respondent got their e-mail address back."""
    night = populated(warehouse, client_config(clients_dir))
    night.run()
    with night.eng.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE respondents SET email = :email WHERE id IN (SELECT id FROM respondents "
                "WHERE assignment_id = :a AND anonymised_on IS NOT NULL ORDER BY id LIMIT 2)"
            ),
            {"email": night.remember("weer.terug.7781@example.nl"), "a": PAST_TERM},
        )
    return night


class _Task:
    task_id = "prove"
    doc_md = "R11: prove that nothing of this client outlived its term on the as-of day."


class _TaskInstance:
    dag_id = "kcm_retention__acme_energie"
    task_id = "prove"
    run_id = "scheduled__2027-03-01T01:00:00+00:00"
    try_number = 3
    task = _Task()


def test_failed_proof_mails_rule_counts_and_report_but_no_personal_data(failed_night, inbox):
    with pytest.raises(proof.ProofFailed) as caught:
        proof.prove(failed_night.eng, failed_night.client, failed_night.as_of, failed_night.run_id)
    context = {  # what Airflow hands a task's on_failure_callback
        "ti": _TaskInstance(),
        "run_id": failed_night.run_id,
        "logical_date": pendulum.datetime(2027, 3, 1, 1, tz="UTC"),
        "exception": caught.value,
    }

    notifications.notify_failure(context)

    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["datateam@kcm.example", "privacy@kcm.example"]
    assert message["From"] == "airflow@kcm.example"
    assert message["Subject"] == (
        "[KCM] kcm_retention__acme_energie failed (as of 2027-03-01): R11 proof, 1 expectation(s) failed"
    )
    body = message.get_content()
    for expected in (
        "DAG:          kcm_retention__acme_energie",
        f"Run:          {failed_night.run_id}",
        "Client:       acme_energie",
        "Failed task:  prove (try 3)",
        "Rules:        R2, R11",
        "R2 respondents (R2 respondents.email): 2",
        f"Report:       {caught.value.summary['report_html']}",
        "Error:        ProofFailed",
    ):
        assert expected in body
    assert not [value for value in failed_night.planted if value in message.as_string()]


def test_without_the_smtp_connection_nothing_is_sent_and_the_log_says_so(monkeypatch, caplog, kcm_home):
    monkeypatch.delenv("AIRFLOW_CONN_KCM_NOTIFY_SMTP", raising=False)
    caplog.set_level(logging.WARNING, logger="include.notifications")

    notifications.notify_failure({"ti": _TaskInstance(), "run_id": _TaskInstance.run_id,
                                  "exception": RuntimeError("boom")})  # fmt: skip

    assert "no Airflow connection kcm_notify_smtp" in caplog.text
    assert (
        "failure of kcm_retention__acme_energie run scheduled__2027-03-01T01:00:00+00:00 (task prove) not e-mailed"
        in (caplog.text)
    )


def test_other_errors_are_named_by_type_only(inbox, kcm_home):
    notifications.notify_failure(
        {"ti": _TaskInstance(), "run_id": _TaskInstance.run_id, "exception": ValueError("jan.jansen@example.nl")}
    )

    body = inbox.messages[0][1].get_content()
    assert "Error:        ValueError" in body
    assert "jan.jansen" not in inbox.messages[0][1].as_string()


@pytest.mark.airflow
def test_failed_nightly_run_through_airflows_runner_mails_the_data_team(failed_night, inbox, airflow_db):
    from airflow.sdk import DAG, get_current_context, task

    client, eng = failed_night.client, failed_night.eng

    @task
    def prove() -> dict:
        """R11: prove that nothing of this client outlived its term on the as-of day."""
        return proof.prove(eng, client, dt.date(2027, 3, 1), get_current_context()["run_id"])

    with DAG(
        dag_id=f"kcm_retention__{client.client_id}",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Amsterdam"),
        on_failure_callback=notifications.notify_failure,
        default_args={"retries": 0},
    ) as dag:
        prove()

    run = dag.test(logical_date=pendulum.datetime(2027, 3, 1, 1, tz="UTC"))

    assert run.state == "failed"
    assert len(inbox.messages) == 1
    message = inbox.messages[0][1]
    body = message.get_content()
    assert "R11 proof, 1 expectation(s) failed" in message["Subject"]
    assert f"Run:          {run.run_id}" in body
    assert "Failed task:  prove" in body
    assert "R2 respondents (R2 respondents.email): 2" in body
    assert not [value for value in failed_night.planted if value in message.as_string()]
