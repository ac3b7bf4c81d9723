"""The dashboard in headless Chromium, in Chinese (every user's default): sign in, the overview
map, a station page with its charts, alerts and snapshots. Screenshots are kept in
test-artifacts/ for a person to look at."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devkit.localbroker import free_port
from tests.support.browser import ARTIFACTS
from tests.support.duty_server import wait_until
from tests.support.seeded_city import MANAGED, MANAGER, MANAGER_PASSWORD, SeededDuty

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


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


def _sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("用户名").fill(username)
    page.get_by_role("textbox", name="密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="总览")).to_be_visible(timeout=60_000)
    _charts_drawn(page, 1)  # the map


def _station_page(page: Page) -> None:
    """From the overview to the first station: charts, alerts, loaded snapshots, verdicts."""
    page.get_by_role("button", name="打开驿站页面").click()
    expect(page.get_by_text("最近 24 小时在站人数")).to_be_visible(timeout=60_000)
    _charts_drawn(page, 6)
    snapshots = page.locator("[data-testid='stImage'] img")
    expect(snapshots.first).to_be_visible(timeout=60_000)
    wait_until(
        lambda: snapshots.first.evaluate("img => img.complete && img.naturalWidth > 0"),
        30,
        "the snapshot to load",
    )
    expect(page.get_by_text("判定：").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-station.png"), full_page=True)
    # Streamlit scrolls inside its own container: a tall window shows the alerts too.
    page.set_viewport_size({"width": 1400, "height": 3000})
    expect(snapshots.first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-station-full.png"))
    assert MANAGED[0] in page.content()


def _admin_pages(page: Page, url: str, seeded: SeededDuty) -> None:
    """An admin sees every station on the map; then the reports and devices pages."""
    with seeded.server.client() as http:
        admin = {"username": "admin.lin", "password": "admin-password-123", "role": "admin"}
        http.post("/api/v1/users", json=admin).raise_for_status()
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible(timeout=60_000)
    _sign_in(page, url, admin["username"], admin["password"])
    expect(page.get_by_text(f"共 {seeded.summary.stations} 个驿站，1 页")).to_be_visible()
    page.wait_for_function(
        "() => { const t = document.querySelector('[data-testid=stDataFrame]');"
        " return t && t.getBoundingClientRect().width > 400; }",
        timeout=60_000,
    )
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview-admin.png"))
    page.get_by_role("link", name="报表").click()
    expect(page.get_by_text("月度汇总")).to_be_visible(timeout=60_000)
    _charts_drawn(page, 3)
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.screenshot(path=str(ARTIFACTS / "dashboard-reports.png"))
    page.get_by_role("link", name="设备与节点").click()
    expect(page.get_by_text("边缘节点")).to_be_visible(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "dashboard-devices.png"))


def test_overview_and_station_page_in_chromium(
    browser: Browser, dashboard_url: str, seeded: SeededDuty
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    _sign_in(page, dashboard_url, MANAGER, MANAGER_PASSWORD)
    expect(page.get_by_text("优先关注")).to_be_visible()
    expect(page.get_by_text(f"共 {len(MANAGED)} 个驿站，1 页")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)
    _station_page(page)
    _admin_pages(page, dashboard_url, seeded)
    page.close()
