"""The Retention view: the numbers behind it (include.dashboard) and its pages behind Airflow's login.

The warehouse holds the known world of tests/integration/world.py, seen on 2026-11-20.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import secrets

import pytest

from include import dashboard, settings
from tests.conftest import ROOT
from tests.integration import world

AS_OF = world.AS_OF


@pytest.fixture
def known(warehouse, clients_dir) -> world.KnownWorld:
    return world.build(warehouse, clients_dir)


# --- the numbers ----------------------------------------------------------------------------


def test_overview_counts_what_each_client_stores(warehouse, known):
    view = dashboard.overview(warehouse, AS_OF)

    assert [c.client_id for c in view.clients] == ["noordzee_energie", "zuid_telecom"]
    for client in view.clients:
        assert client.personal_respondents == known.personal[client.client_id]
        assert client.anonymised_respondents == known.anonymised[client.client_id]
        assert client.recordings == known.recordings[client.client_id]
    assert view.totals["personal_respondents"] == 19
    assert view.totals["recordings"] == 4


def test_assignment_whose_term_ends_in_three_weeks_is_due_and_one_destroyed_next_month_too(warehouse, known):
    view = dashboard.overview(warehouse, AS_OF)

    noordzee, zuid = view.client("noordzee_energie"), view.client("zuid_telecom")
    assert [
        (a.assignment_id, a.rule, a.due_on, a.personal_respondents, a.recordings) for a in noordzee.due_assignments
    ] == [("a2", "R2", dt.date(2026, 12, 10), 5, 2)]
    assert [(a.assignment_id, a.rule, a.due_on, a.personal_respondents) for a in zuid.due_assignments] == [
        ("b1", "R4", dt.date(2026, 12, 1), 4)
    ]
    assert noordzee.due_respondents == known.due_respondents["noordzee_energie"]
    assert zuid.due_respondents == known.due_respondents["zuid_telecom"]


def test_due_within_30_days_is_not_due_the_day_before(warehouse, known):
    earlier = dashboard.overview(warehouse, AS_OF - dt.timedelta(days=11))  # horizon 2026-12-09

    assert earlier.client("noordzee_energie").due_assignments == ()
    assert [a.assignment_id for a in earlier.client("zuid_telecom").due_assignments] == ["b1"]


def test_non_respondents_falling_due_are_counted_and_the_one_past_due_is_flagged(warehouse, known):
    noordzee = dashboard.overview(warehouse, AS_OF).client("noordzee_energie")

    assert noordzee.due_non_respondents == known.due_non_respondents["noordzee_energie"]
    assert noordzee.overdue_non_respondents == known.overdue_non_respondents["noordzee_energie"]


def test_last_night_shows_what_the_nightly_run_deleted(warehouse, known):
    noordzee = dashboard.overview(warehouse, AS_OF).client("noordzee_energie")

    assert noordzee.last_night.as_of == world.NIGHT
    assert (noordzee.last_night.non_respondents_deleted, noordzee.last_night.anonymised) == (3, 0)
    assert dashboard.overview(warehouse, AS_OF).client("zuid_telecom").last_night is None


def test_client_page_lists_the_nights_with_what_was_anonymised_and_deleted(warehouse, known):
    detail = dashboard.client_detail(warehouse, "noordzee_energie", AS_OF)

    nights = {n.as_of: n for n in detail.nights}
    assert list(nights) == [world.NIGHT, dt.date(2026, 10, 31)]
    october = nights[dt.date(2026, 10, 31)]
    assert (october.anonymised, october.assignments_anonymised, october.recordings_deleted) == (6, 1, 1)
    assert nights[world.NIGHT].deleted == 3


def test_last_proof_shows_its_result_time_and_report(warehouse, known):
    view = dashboard.overview(warehouse, AS_OF)

    passed, failed = view.client("noordzee_energie").proof, view.client("zuid_telecom").proof
    assert (passed.passed, passed.as_of, passed.report) == (True, world.NIGHT, world.REPORT)
    assert passed.recorded_at.date() == dt.datetime.now(dt.UTC).date()
    assert (failed.passed, failed.failed_checks, failed.report) == (False, 1, None)
    assert dashboard.report_file(world.REPORT) == settings.reports_dir() / world.REPORT


def test_report_file_never_leaves_the_reports_folder(warehouse, known, kcm_home):
    (kcm_home / "warehouse_dump.html").write_text("<html>not a report</html>")

    assert dashboard.report_file("../warehouse_dump.html") is None
    assert dashboard.report_file("/etc/passwd") is None
    assert dashboard.report_file("noordzee_energie/missing.html") is None


def test_open_subject_requests_carry_their_due_dates_and_the_overdue_one_is_flagged(warehouse, known):
    view = dashboard.overview(warehouse, AS_OF)

    zuid = view.client("zuid_telecom")
    assert [(r.request_id, r.due_on, r.overdue) for r in zuid.open_requests] == [
        ("req-zt-1", dt.date(2026, 11, 1), True),
        ("req-all-1", dt.date(2026, 12, 15), False),
    ]
    assert [r.request_id for r in view.client("noordzee_energie").open_requests] == ["req-all-1"]
    assert (view.totals["open_requests"], view.totals["overdue_requests"]) == (2, 1)


def test_view_works_on_a_warehouse_without_subject_requests(warehouse, known):
    with warehouse.begin() as conn:
        conn.exec_driver_sql("DROP TABLE erased_subjects")
        conn.exec_driver_sql("DROP TABLE subject_requests")

    view = dashboard.overview(warehouse, AS_OF)

    assert view.requests_tracked is False
    assert view.client("zuid_telecom").open_requests == ()
    assert view.client("noordzee_energie").personal_respondents == known.personal["noordzee_energie"]
    assert dashboard.client_detail(warehouse, "zuid_telecom", AS_OF).requests_tracked is False


def test_chart_history_moves_respondents_from_personal_to_anonymised_on_the_night_of_their_term(warehouse, known):
    history = {p.day: p for p in dashboard.client_detail(warehouse, "noordzee_energie", AS_OF).history}

    before, night = history[dt.date(2026, 10, 30)], history[dt.date(2026, 10, 31)]
    # Loaded by then: a1's six, a2's five and a3's early non-respondent; a3's others came in November.
    assert (before.personal, before.anonymised) == (12, 0)
    assert (night.personal, night.anonymised) == (6, 6)
    assert history[AS_OF].personal == known.personal["noordzee_energie"]
    assert history[AS_OF].anonymised == known.anonymised["noordzee_energie"]
    assert history[AS_OF].deleted == 3
    assert min(history) == dt.date(2026, 7, 3)  # the first load


def test_unknown_client_has_no_detail(warehouse, known):
    assert dashboard.client_detail(warehouse, "onbekend", AS_OF) is None


# --- the pages, behind Airflow's authentication -------------------------------------------------

USER, PASSWORD = "datateam", "Vertrouwelijk-Wachtwoord-1"
# One secret for the session: Airflow caches its token signer and validator per process.
JWT_SECRET = secrets.token_urlsafe(64)


@pytest.fixture
def auth(airflow_db, tmp_path, monkeypatch):
    """Airflow's SimpleAuthManager with one viewer, as the api-server sets it up; yields a JWT for them."""
    from airflow.api_fastapi import app as api_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER", "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    )
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{USER}:viewer")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", JWT_SECRET)
    api_app.purge_cached_app()
    manager = api_app.init_auth_manager()
    yield manager.generate_jwt(SimpleAuthManagerUser(username=USER, role="viewer"))
    api_app.purge_cached_app()


@pytest.fixture
def view_app():
    spec = importlib.util.spec_from_file_location(
        "kcm_retention_view_under_test", ROOT / "plugins" / "kcm_retention_view.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_app()


@pytest.fixture
def client(view_app):
    """The view mounted at /retention, as the api-server mounts plugin apps."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    api_server = FastAPI()
    api_server.mount("/retention", view_app)
    with TestClient(api_server, base_url="http://airflow.test", follow_redirects=False) as test_client:
        yield test_client


def test_anonymous_visitor_gets_no_page_and_a_browser_is_sent_to_the_login(client, auth, warehouse, known):
    assert client.get("/retention/api/overview").status_code == 401
    assert client.get("/retention/reports/" + world.REPORT).status_code == 401

    browser = client.get("/retention/", headers={"accept": "text/html"})
    assert browser.status_code == 303
    assert browser.headers["location"].startswith("/auth/login?next=")
    assert known.planted[0] not in browser.text


def test_forged_token_is_refused(client, auth, warehouse, known):
    forged = auth[:-4] + ("AAAA" if not auth.endswith("AAAA") else "BBBB")
    assert client.get("/retention/api/overview", headers={"authorization": f"Bearer {forged}"}).status_code in (
        401,
        403,
    )
    assert client.get("/retention/", cookies={"_token": "not-a-jwt"}).status_code in (401, 403)


def test_logged_in_data_team_sees_every_number_and_no_personal_data(client, auth, warehouse, known):
    page = client.get("/retention/", params={"as_of": AS_OF.isoformat()}, cookies={"_token": auth})
    assert page.status_code == 200
    html = page.text

    for client_id in ("noordzee_energie", "zuid_telecom"):
        row = html[html.index(f'data-client="{client_id}"') :]
        row = row[: row.index("</tr>")]
        assert _field(row, "personal") == known.personal[client_id]
        assert _field(row, "recordings") == known.recordings[client_id]
        assert _field(row, "due-respondents") == known.due_respondents[client_id]
        assert _field(row, "due-non-respondents") == known.due_non_respondents[client_id]
    assert 'class="overdue">access req-zt-1: due 2026-11-01' in html
    assert f'href="reports/{world.REPORT}"' in html
    assert [value for value in known.planted if value in html] == []


def test_client_page_shows_the_chart_and_past_due_work_in_red(client, auth, warehouse, known):
    page = client.get(
        "/retention/clients/noordzee_energie", params={"as_of": AS_OF.isoformat()}, cookies={"_token": auth}
    )
    assert page.status_code == 200
    html = page.text

    assert '<svg class="chart"' in html
    assert 'data-series="personal" data-last="12"' in html
    assert 'data-series="anonymised" data-last="6"' in html
    assert re.search(r'data-testid="due-non-respondents" data-value="2"', html)
    assert 'class="value overdue" data-testid="due-non-respondents"' in html
    assert f'href="../reports/{world.REPORT}"' in html
    assert [value for value in known.planted if value in html] == []
    assert client.get(f"/retention/reports/{world.REPORT}", cookies={"_token": auth}).text.startswith("<html>")
    assert client.get("/retention/reports/%2E%2E/warehouse.db", cookies={"_token": auth}).status_code == 404


def test_json_overview_matches_the_page(client, auth, warehouse, known):
    data = client.get(
        "/retention/api/overview", params={"as_of": AS_OF.isoformat()}, headers={"authorization": f"Bearer {auth}"}
    ).json()

    assert data["totals"]["personal_respondents"] == sum(known.personal.values())
    assert {c["client_id"]: c["proof"]["passed"] for c in data["clients"]} == known.proof_passed
    assert {
        c["client_id"]: [r["request_id"] for r in c["open_requests"]] for c in data["clients"]
    } == known.open_requests


def test_bad_as_of_is_explained(client, auth, warehouse, known):
    answer = client.get("/retention/api/overview", params={"as_of": "20-11-2026"}, cookies={"_token": auth})
    assert answer.status_code == 400
    assert "YYYY-MM-DD" in answer.json()["detail"]


def _field(row_html: str, name: str) -> int:
    return int(re.search(rf'data-field="{name}" data-value="(\d+)"', row_html).group(1))
