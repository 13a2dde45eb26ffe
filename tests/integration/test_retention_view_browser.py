"""The data team opens the Retention view in a real browser, behind Airflow's login.

A real `airflow api-server` (SimpleAuthManager, random secrets, temp AIRFLOW_HOME)
serves a warehouse with known contents (tests/integration/world.py). Headless
Chromium, driven by selenium through Debian's chromedriver, is sent to the login,
signs in, finds "Retention" in Airflow's UI and reads the numbers, which must match
the warehouse. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.integration import world
from tests.integration.topology import PROJECT, Topology

pytestmark = pytest.mark.integration

CHROMIUM = Path(os.environ.get("KCM_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("KCM_CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver"))
SCREENSHOTS = PROJECT / "var" / "screenshots"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """An api-server with the Retention plugin over a SQLite warehouse holding the known world."""
    root = tmp_path_factory.mktemp("retention-view")
    clients_dir = root / "clients"
    clients_dir.mkdir()
    topology = Topology(root / "deployment", clients_dir, executor="LocalExecutor")
    warehouse_url = f"sqlite:///{topology.kcm_home / 'warehouse.db'}"
    topology.env["AIRFLOW_CONN_KCM_WAREHOUSE"] = warehouse_url
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KCM_HOME", str(topology.kcm_home))
        patch.setenv("AIRFLOW_CONN_KCM_WAREHOUSE", warehouse_url)
        from include import warehouse

        eng = warehouse.engine()
        known = world.build(eng, clients_dir)
        with topology:
            topology.airflow("db", "migrate")
            topology.start_api_server()
            yield topology, eng, known
        eng.dispose()
        warehouse._engine.cache_clear()
        warehouse._migrated.cache_clear()


@pytest.fixture
def browser(tmp_path):
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail(
            f"Chromium ({CHROMIUM}) and chromedriver ({CHROMEDRIVER}) are needed: "
            "apt-get update && apt-get install -y chromium chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never downloads a driver
    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1600,1400", f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=Service(str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    )
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)


def _screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    return path


def _number(element) -> int:
    return int(element.get_attribute("data-value"))


def _stored_counts(eng) -> dict[str, dict[str, int]]:
    """What the warehouse holds per client, counted here without include.dashboard."""
    counts: dict[str, dict[str, int]] = {}
    with eng.connect() as conn:
        for client_id, personal, anonymised in conn.execute(
            sa.text(
                "SELECT client_id, sum(CASE WHEN anonymised_on IS NULL THEN 1 ELSE 0 END), "
                "sum(CASE WHEN anonymised_on IS NULL THEN 0 ELSE 1 END) FROM respondents GROUP BY client_id"
            )
        ):
            counts[client_id] = {"personal": personal, "anonymised": anonymised, "recordings": 0}
        for client_id, recordings in conn.execute(
            sa.text("SELECT client_id, count(*) FROM recordings WHERE state = 'stored' GROUP BY client_id")
        ):
            counts[client_id]["recordings"] = recordings
    return counts


def test_anonymous_visitor_is_refused_or_sent_to_the_login(served):
    topology, _eng, known = served
    api = httpx.get(f"{topology.base_url}/retention/api/overview", timeout=30)
    page = httpx.get(f"{topology.base_url}/retention/", headers={"accept": "text/html"}, timeout=30)
    report = httpx.get(f"{topology.base_url}/retention/reports/{known.report}", timeout=30)

    assert api.status_code == 401
    assert report.status_code == 401
    assert page.status_code == 303 and page.headers["location"].startswith("/auth/login?next=")


def test_data_team_signs_in_and_reads_the_retention_view_in_airflow(served, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen

    topology, eng, known = served
    browser.get(f"{topology.base_url}/retention/")
    _wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "input[name=username]")))
    assert "/auth/login" in browser.current_url  # the view sent the browser to Airflow's login

    browser.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys(topology.username)
    browser.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(topology.password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=total-personal]")))

    # Inside Airflow's UI: the navigation entry opens the view in Airflow's frame.
    browser.get(f"{topology.base_url}/")
    entry = _wait(browser, seen.element_to_be_clickable((By.CSS_SELECTOR, "a[href$='plugin/retention']")))
    entry.click()
    frame = _wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "iframe[title=Retention]")))
    browser.switch_to.frame(frame)
    _wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "tr[data-client]")))
    stored = _stored_counts(eng)
    for client_id, counts in stored.items():
        row = browser.find_element(By.CSS_SELECTOR, f"tr[data-client={client_id}]")
        shown = {f: _number(row.find_element(By.CSS_SELECTOR, f"[data-field={f}]")) for f in counts}
        assert shown == counts, client_id
    assert _number(browser.find_element(By.CSS_SELECTOR, "[data-testid=total-personal]")) == sum(
        c["personal"] for c in stored.values()
    )
    browser.switch_to.default_content()
    _screenshot(browser, "retention-view-in-airflow.png")

    # The known day: what falls due, the proof and the requests, then one client's page.
    browser.get(f"{topology.base_url}/retention/?as_of={known.as_of.isoformat()}")
    for client_id in known.personal:
        row = browser.find_element(By.CSS_SELECTOR, f"tr[data-client={client_id}]")
        assert (
            _number(row.find_element(By.CSS_SELECTOR, "[data-field=due-respondents]"))
            == known.due_respondents[client_id]
        )
        assert (
            _number(row.find_element(By.CSS_SELECTOR, "[data-field=due-non-respondents]"))
            == (known.due_non_respondents[client_id])
        )
        result = row.find_element(By.CSS_SELECTOR, "[data-field=proof-result]").get_attribute("data-value")
        assert result == ("passed" if known.proof_passed[client_id] else "failed")
    overdue = browser.find_elements(By.CSS_SELECTOR, "tr[data-client=zuid_telecom] [data-field=open-requests] .overdue")
    assert [e.text for e in overdue] == ["access req-zt-1: due 2026-11-01"]
    assert overdue[0].value_of_css_property("color") == "rgba(185, 28, 28, 1)"  # red
    html = browser.page_source
    assert [value for value in known.planted if value in html] == []
    _screenshot(browser, "retention-view-overview.png")

    browser.find_element(By.LINK_TEXT, "noordzee_energie").click()
    _wait(browser, seen.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=chart] svg")))
    assert (
        _number(browser.find_element(By.CSS_SELECTOR, "[data-testid=personal]")) == known.personal["noordzee_energie"]
    )
    assert browser.find_element(By.CSS_SELECTOR, "polyline[data-series=anonymised]").get_attribute("data-last") == "6"
    assert [value for value in known.planted if value in browser.page_source] == []
    _screenshot(browser, "retention-view-client.png")

    browser.find_element(By.LINK_TEXT, "Open the report").click()
    browser.switch_to.window(browser.window_handles[-1])
    _wait(browser, lambda d: "passed" in d.find_element(By.TAG_NAME, "h1").text)
    assert browser.current_url.endswith(f"/retention/reports/{known.report}")
    assert dt.date.fromisoformat("2026-11-19").isoformat() in browser.find_element(By.TAG_NAME, "h1").text
