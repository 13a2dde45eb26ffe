"""R7 suppression list: a person who objected stays out of later deliveries, known only by a keyed hash."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from include import config, settings, suppression, sync
from include.sample_data import fake_respondents, write_responses_csv
from tests.factories import write_client
from tests.test_subject_requests import DAG_ID, RUN_DAY, SECRET, _succeeded, file_hits, warehouse_hits

AS_OF = dt.date(2026, 11, 20)


@pytest.fixture(autouse=True)
def suppression_secret(monkeypatch):
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", SECRET)


@pytest.fixture
def clients(clients_dir, warehouse):
    for client_id in ("acme", "beta"):
        write_client(clients_dir, client_id)
        sync.apply_config(warehouse, config.get_client(client_id))


def _list(warehouse, scope: str, **identifiers: str) -> None:
    normalised = {kind: suppression.normalise(kind, value) for kind, value in identifiers.items()}
    with warehouse.begin() as conn:
        suppression.add(conn, client_scope=scope, hashes=suppression.hashes_of(normalised), request_id="sr-test",
                        added_on=AS_OF)  # fmt: skip


def _delivery(**columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(values, dtype="str") for name, values in columns.items()})


def test_each_identifier_kind_matches_however_the_client_writes_it(warehouse, clients):
    _list(warehouse, "acme", email="jan.de.vries@example.nl")
    _list(warehouse, "acme", phone="06-12345678")
    _list(warehouse, "acme", customer_number="K 0001 2345")
    _list(warehouse, "acme", respondent_ref="r0000042")
    frame = _delivery(
        email=[" Jan.de.Vries@Example.NL ", "iemand@example.nl", None, None, None, None],
        phone=[None, None, "+31 6 12345678", "020-7654321", None, None],
        customer_number=[None, None, None, None, "k00012345", None],
        respondent_ref=["R1", "R2", "R3", "R4", "R5", "R0000042"],
    )

    assert suppression.suppressed(warehouse, "acme", frame).tolist() == [True, False, True, False, True, True]
    assert not suppression.suppressed(warehouse, "beta", frame).any(), "an objection to acme is acme's"


def test_an_objection_to_all_clients_applies_to_every_client(warehouse, clients):
    _list(warehouse, suppression.ALL_CLIENTS, email="jan.de.vries@example.nl")
    frame = _delivery(email=["jan.de.vries@example.nl", "piet@example.nl"])

    for client_id in ("acme", "beta"):
        assert suppression.suppressed(warehouse, client_id, frame).tolist() == [True, False]


def test_the_list_holds_keyed_hashes_never_identifiers(warehouse, clients, monkeypatch):
    _list(warehouse, "acme", email="jan.de.vries@example.nl", phone="0612345678")

    assert warehouse_hits(warehouse, ["jan.de.vries", "612345678"]) == {}
    with warehouse.connect() as conn:
        stored = set(conn.execute(sa.text("SELECT identifier_hmac FROM suppression_list")).scalars())
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", "another-secret-of-at-least-32-characters!")
    elsewhere = {suppression.keyed_hash("email", "jan.de.vries@example.nl")}
    assert elsewhere.isdisjoint(stored), "without the secret the hash cannot be recomputed"


def test_deliveries_of_a_client_nobody_objected_to_need_no_secret(warehouse, clients, monkeypatch):
    monkeypatch.delenv("KCM_SUPPRESSION_SECRET")
    frame = _delivery(email=["jan@example.nl"])

    assert suppression.suppressed(warehouse, "acme", frame).tolist() == [False]


def test_a_missing_or_short_secret_is_a_clear_error_once_someone_is_listed(warehouse, clients, monkeypatch):
    _list(warehouse, "acme", email="jan@example.nl")
    frame = _delivery(email=["jan@example.nl"])
    monkeypatch.delenv("KCM_SUPPRESSION_SECRET")
    with pytest.raises(suppression.SecretMissing, match="kcm_suppression.*KCM_SUPPRESSION_SECRET"):
        suppression.suppressed(warehouse, "acme", frame)
    monkeypatch.setenv("KCM_SUPPRESSION_SECRET", "kort")
    with pytest.raises(suppression.SecretMissing, match="at least 32"):
        suppression.suppressed(warehouse, "acme", frame)


def test_the_secret_comes_from_the_airflow_connection_first(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KCM_SUPPRESSION", "generic://:uit-de-verbinding-0123456789abcdef-XYZ@")
    assert suppression.secret() == b"uit-de-verbinding-0123456789abcdef-XYZ"
    monkeypatch.setenv("AIRFLOW_CONN_KCM_SUPPRESSION", json.dumps({"conn_type": "generic", "password": "j" * 40}))
    assert suppression.secret() == b"j" * 40


def test_after_an_objection_a_later_delivery_stores_everyone_else_and_not_them(
    warehouse, clients_dir, run_dag, kcm_home
):
    write_client(clients_dir, "acme", assignments=[
        {"id": "a1", "title": "Klanttevredenheid najaar", "completed_on": None, "destruction_requested_on": None},
        {"id": "a2", "title": "Winteronderzoek", "completed_on": None, "destruction_requested_on": None},
    ])  # fmt: skip
    delivered = fake_respondents(8, assignment_ids=["a1", "a2"], seed=31, as_of=AS_OF)
    objector = delivered[3]
    objection = {"client": "acme", "request_type": "objection", "email": objector["email"],
                 "received_on": "2026-11-19"}  # fmt: skip
    assert _succeeded(run_dag(DAG_ID, RUN_DAY, conf=objection))

    # The client delivers the person again, in both assignments, once with a bad phone number too.
    again = {**objector, "assignment_id": "a2" if objector["assignment_id"] == "a1" else "a1", "phone": "onbekend",
             "respondent_ref": objector["respondent_ref"] + "B", "email": objector["email"].upper()}  # fmt: skip
    write_responses_csv(settings.landing_dir("acme") / "responses_december.csv", [*delivered, again])
    ingest_run = run_dag("kcm_ingest__acme", "2026-11-21T05:00:00+00:00")
    assert _succeeded(ingest_run)

    with warehouse.connect() as conn:
        refs = set(conn.execute(sa.text("SELECT respondent_ref FROM respondents")).scalars())
        delivery = conn.execute(sa.text("SELECT rows_total, rows_loaded, rows_quarantined, rows_suppressed "
                                         "FROM deliveries")).one()  # fmt: skip
        events = [json.loads(c) for c in conn.execute(
            sa.text("SELECT counts FROM audit_events WHERE action = 'delivery_loaded'")).scalars()]  # fmt: skip
    assert refs == {p["respondent_ref"] for p in delivered} - {objector["respondent_ref"]}
    assert tuple(delivery) == (9, 7, 0, 2), "rows in = loaded + quarantined + suppressed"
    assert events[0]["rows_suppressed"] == 2
    assert warehouse_hits(warehouse, [objector["email"]]) == {}
    assert file_hits(kcm_home, [objector["email"]]) == [], "not in quarantine, reports or the database file"
