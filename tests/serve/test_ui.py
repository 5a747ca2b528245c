"""The trader's window in a real browser: Debian's chromium, headless, driven by Selenium
through the system chromedriver, loads /ui of the live session, connects with a viewer token,
finds the session's values, sees them change after two more steps, and saves a screenshot
(build/ui/dashboard.png). Also: the stream's events over plain HTTP, and the assets' 404s."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest
import ray

from tests.serve.live_api import FIRST_CLOCK, STEP, LiveApi
from trading.execution.progress import SessionProgress
from trading.risk.gate import RiskSummary
from trading.security.tokens import Role

pytestmark = pytest.mark.ray

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "ui"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def _progress(live: LiveApi) -> SessionProgress:
    progress: ray.ObjectRef[SessionProgress] = live.orchestrator.progress.remote()
    return ray.get(progress)


def _first_event(live: LiveApi, role: Role = Role.VIEWER) -> dict[str, Any]:
    with (
        httpx2.Client(base_url=live.url, timeout=30, trust_env=False) as http,
        http.stream(
            "GET", "/v1/stream?events=2&interval_ms=200", headers=live.headers(role)
        ) as answer,
    ):
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in answer.iter_lines() if line.startswith("data: ")]
    assert len(events) == 2  # then the stream ends
    event: dict[str, Any] = events[0]
    return event


def test_the_stream_carries_the_sessions_state(live: LiveApi) -> None:
    event = _first_event(live)
    summary_ref: ray.ObjectRef[RiskSummary] = live.handles.risk.summary.remote()
    summary = ray.get(summary_ref)
    assert event["progress"]["steps"] == _progress(live).steps
    assert Decimal(str(event["risk"]["equity"])) == summary.equity
    assert set(event["signals"]) == set(live.handles.symbols)
    assert event["health"]["status"] == "ok"
    assert event["limits"]["max_gross_exposure_pct"] == 20.0


def test_the_stream_needs_a_viewer_and_assets_are_only_ours(live: LiveApi) -> None:
    with httpx2.Client(base_url=live.url, timeout=30, trust_env=False) as http:
        assert http.get("/v1/stream").status_code == 401
        assert http.get("/v1/stream", headers=live.headers(Role.SCRAPE)).status_code == 403
        page = http.get("/ui")
        assert page.status_code == 200
        assert "/ui/plotly.min.js" in page.text
        assert "cdn" not in page.text.lower()
        assert http.get("/ui/plotly.min.js").headers["content-type"].startswith("text/javascript")
        assert http.get("/ui/app.js").status_code == 200
        assert http.get("/ui/secrets.txt").status_code == 404
        assert http.get("/ui/..%2Fapp.py").status_code == 404


def _shown(clock: str | None) -> str:
    """``2025-10-01T01:30:00+00:00`` as the page shows it: ``2025-10-01 01:30 UTC``."""
    assert clock is not None
    return f"{clock[:16].replace('T', ' ')} UTC"


def _plotted(clock: str | None) -> str:
    assert clock is not None
    return clock[:19].replace("T", " ")


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        missing = "chromium and chromedriver (Debian: chromium chromium-driver) not installed"
        if os.environ.get("RAYTRADER_REQUIRE_BROWSER"):  # .ci/run installs them: never skip
            pytest.fail(missing)
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1600")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_dashboard_shows_the_session_and_follows_its_steps(live: LiveApi, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    before = _progress(live)
    browser.get(live.url + "/ui")
    browser.find_element(By.ID, "token").send_keys(live.tokens[Role.VIEWER])
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait = WebDriverWait(browser, 30)
    wait.until(lambda b: b.find_element(By.ID, "steps").text == str(before.steps))
    assert browser.find_element(By.ID, "status").text == "live"
    assert browser.find_element(By.ID, "clock").text == _shown(before.clock)
    signals = browser.find_element(By.ID, "signals").text
    assert all(symbol in signals for symbol in live.handles.symbols)
    actors = browser.find_element(By.ID, "actors").text
    assert "orchestrator ok" in actors
    assert "gross exposure" in browser.find_element(By.ID, "risk").text
    orders = browser.find_element(By.ID, "orders-table").text
    for order in before.recent_orders:  # the API tests' manual orders, when they ran first
        assert order["client_order_id"] in orders

    for i in range(2):
        ray.get(live.orchestrator.step.remote(FIRST_CLOCK + (before.steps + i) * STEP))
    after = _progress(live)
    wait.until(lambda b: b.find_element(By.ID, "steps").text == str(after.steps))
    assert browser.find_element(By.ID, "clock").text == _shown(after.clock) != _shown(before.clock)
    points = browser.execute_script("return document.getElementById('equity-chart').data[0].x")
    # one point per event whose clock moved on (two quick steps may share an event)
    assert (points[0], points[-1]) == (_plotted(before.clock), _plotted(after.clock))
    assert points == sorted(set(points))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
