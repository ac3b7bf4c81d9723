"""The product demo as a watcher sees it: `station demo` itself, then headless Chromium on the
duty console (a fall alert with its blurred snapshot, escalating) and the dashboard (the
worker's visit, the door held open by the fire). Screenshots are kept in test-artifacts/."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from playwright.sync_api import Browser, Page, expect

from devkit.localbroker import free_port
from tests.support.browser import ARTIFACTS
from tests.support.duty_server import wait_until
from tests.support.edge_node import REPO

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Bearer dev-token"}


@dataclass(frozen=True)
class Demo:
    """The running demo: its URLs and its printed banner."""

    api: str
    dashboard: str


def _get(api: str, path: str, **params: Any) -> Any:
    try:
        response = httpx.get(f"{api}/api/v1{path}", headers=AUTH, params=params, timeout=5)
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None


def _items(api: str, path: str, **params: Any) -> list[dict[str, Any]]:
    page = _get(api, path, **params)
    return list(page["items"]) if page else []


@pytest.fixture
def demo(tmp_path: Path, models_dir: Path, media_dir: Path) -> Iterator[Demo]:
    """`station demo` with its defaults (two cameras, devices, entry, console, dashboard)."""
    port = free_port()
    out = tmp_path / "demo.out"
    env = {**os.environ, "UWS_MODELS_DIR": str(models_dir), "UWS_MEDIA_DIR": str(media_dir)}
    command = [sys.executable, "-m", "station.cli", "demo", "--workdir", str(tmp_path / "demo")]
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [*command, "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=log
        )
    try:
        wait_until(lambda: "dashboard" in out.read_text(), 180, "the demo's banner")
        found = re.search(r"dashboard \(managers\): (http://127\.0\.0\.1:\d+)", out.read_text())
        assert found, out.read_text()
        yield Demo(f"http://127.0.0.1:{port}", found[1])
    finally:
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == [], out.read_text()


def _devices(api: str) -> dict[str, dict[str, Any]]:
    """Each station device's last states, as the node reported them."""
    node = _get(api, "/nodes/demo-node-1") or {}
    devices = (node.get("devices") or {}).get("devices") or []
    return {d["device_id"]: d.get("values") or {} for d in devices}


def _fire_response(api: str) -> bool:
    """The fire rule ran: the fan is on, every socket cut, the door unlocked (or held)."""
    devices = _devices(api)
    sockets = devices.get("sockets", {})
    cut = [v for k, v in sockets.items() if k.startswith("socket") and "_" not in k]
    door = devices.get("door", {})
    opened = door.get("hold") is True or door.get("lock") == "UNLOCKED"
    return devices.get("fan", {}).get("fan") is True and cut == [False, False] and opened


def _console(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.api}/#token=dev-token")
    card = page.locator("article.alert", has_text="跌倒").first
    expect(card).to_be_visible(timeout=30_000)
    expect(card.locator(".chip.sev")).to_have_text("紧急")
    expect(card.locator("img")).to_be_visible(timeout=30_000)
    expect(card).to_contain_text("升级 1", timeout=30_000)
    fire = page.locator("article.alert", has_text="火情").first
    expect(fire).to_be_visible()
    # The camera's blurred picture, not hidden by the rules' event folded in after it.
    expect(fire.locator("img")).to_have_attribute("src", re.compile(r"^blob:"), timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "demo-console.png"), full_page=True)
    # For the README: the clips' own frames may not be published, so the snapshots are masked.
    masked = page.locator("article.alert img")
    page.screenshot(path=str(ARTIFACTS / "demo-console-masked.png"), mask=[masked])


def _dashboard(page: Page, demo: Demo) -> None:
    page.goto(demo.dashboard)
    page.get_by_label("用户名").fill("admin")
    page.get_by_role("textbox", name="密码").fill("change-me-please")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="总览")).to_be_visible(timeout=60_000)
    inside = page.locator("[data-testid='stMetric']", has_text="当前在站")
    expect(inside).to_contain_text("1", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "demo-dashboard.png"), full_page=True)
    page.get_by_role("link", name="设备与节点").click()
    expect(page.get_by_role("heading", name="驿站设备")).to_be_visible(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "demo-devices.png"), full_page=True)


def test_the_demo_shows_a_fall_a_fire_at_the_door_and_a_visit(browser: Browser, demo: Demo) -> None:
    wait_until(lambda: _items(demo.api, "/alerts", kind="fall"), 150, "the fall alert")
    # The fire response opens the door, cuts the sockets, starts the fan; a worker is inside.
    wait_until(lambda: _fire_response(demo.api), 60, "the door, sockets and fan on fire")
    # Let in by QR, held open or not by the fire: the worker's visit is there.
    wait_until(lambda: _items(demo.api, "/visits"), 120, "the worker's visit")
    (fire,) = _items(demo.api, "/alerts", kind="fire")
    assert fire["severity"] == "critical"
    assert _items(demo.api, "/alerts", kind="person") == []  # presence pages nobody
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _console(page, demo)
    _dashboard(page, demo)
