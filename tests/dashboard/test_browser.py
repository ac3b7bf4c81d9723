"""The dashboard in headless Chromium: sign in, the overview map, a station page with its
charts, alerts and snapshots. Screenshots are kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from station.localbroker import free_port
from tests.console.test_console import ARTIFACTS, CHROMIUM_FLAGS
from tests.dashboard.conftest import MANAGED, MANAGER, MANAGER_PASSWORD, SeededDuty
from tests.support.duty_server import wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (no browser download)."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def dashboard_url(seeded: SeededDuty, tmp_path: Path) -> Iterator[str]:
    """`station dashboard` as a subprocess on a free port, pointed at the seeded cloud-duty."""
    port = free_port()
    env = {**os.environ, "UWS_DASHBOARD_DUTY_URL": seeded.server.url}
    log = (tmp_path / "streamlit.log").open("w")
    command = [sys.executable, "-m", "station.cli", "dashboard", "--port", str(port)]
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 90, "streamlit to serve")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _charts_drawn(page: Page, count: int) -> None:
    charts = page.locator(".vega-embed canvas, .vega-embed svg.marks")
    expect(charts).to_have_count(count, timeout=60_000)


def test_overview_and_station_page_in_chromium(
    browser: Browser,
    dashboard_url: str,
    seeded: SeededDuty,
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(dashboard_url)
    page.get_by_label("Username").fill(MANAGER)
    page.get_by_role("textbox", name="Password").fill(MANAGER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60_000)
    _charts_drawn(page, 1)  # the map
    expect(page.get_by_text("Needs attention first")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)

    page.get_by_role("button", name="Open station page").click()
    expect(page.get_by_text("Occupancy over the last 24 hours")).to_be_visible(timeout=60_000)
    _charts_drawn(page, 6)
    snapshots = page.locator("[data-testid='stImage'] img")
    expect(snapshots.first).to_be_visible(timeout=60_000)
    wait_until(
        lambda: snapshots.first.evaluate("img => img.complete && img.naturalWidth > 0"),
        30,
        "the snapshot to load",
    )
    expect(page.get_by_text("Verdict:").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-station.png"), full_page=True)
    # Streamlit scrolls inside its own container: a tall window shows the alerts too.
    page.set_viewport_size({"width": 1400, "height": 3000})
    expect(snapshots.first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-station-full.png"))
    assert MANAGED[0] in page.content()

    # An admin sees every station on the map.
    with seeded.server.client() as http:
        admin = {"username": "admin.lin", "password": "admin-password-123", "role": "admin"}
        http.post("/api/v1/users", json=admin).raise_for_status()
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").fill(admin["username"])
    page.get_by_role("textbox", name="Password").fill(admin["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60_000)
    _charts_drawn(page, 1)
    expect(page.get_by_text(f"{seeded.summary.stations} stations, 1 page(s)")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview-admin.png"))
    page.close()
