"""The duty console in headless Chromium: sign in, a new alert appears live, acknowledge it,
and escalation stops. A screenshot is kept in test-artifacts/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect

from station.contracts import EventKind, NodeTopics, TopicKind, utcnow
from tests.duty.messages import event
from tests.support.broker import MosquittoBroker
from tests.support.browser import ARTIFACTS
from tests.support.duty_server import DutyServer, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str, tmp_path: Path) -> Iterator[DutyServer]:
    """cloud-duty with a duty user on a rotation and an 8-second escalation policy."""
    server = DutyServer(
        pg_url, broker.port, liveness_check_s=0.3, snapshot_dir=str(tmp_path / "snaps")
    ).start()
    server.register("st-north", "node-1")
    with server.client() as http:
        user = {"username": "li", "password": "li-password-123", "role": "duty"}
        http.post("/api/v1/users", json=user).raise_for_status()
        for level, person in ((1, "li"), (2, "admin")):
            body = {
                "name": f"l{level}",
                "level": level,
                "members": [person],
                "starts_on": "2026-01-01",
            }
            http.post("/api/v1/rotations", json=body).raise_for_status()
        policy = {"name": "fast", "steps": [{"level": 1, "wait_s": 8}, {"level": 2, "wait_s": 8}]}
        http.post("/api/v1/escalation-policies", json=policy).raise_for_status()
    yield server
    server.stop()


def _publish_fall_with_snapshot(port: int, media_dir: Path) -> None:
    image = cv2.imread(str(media_dir / "fall" / "fall_f0204.jpg"))
    assert image is not None
    ok, jpeg = cv2.imencode(".jpg", cv2.resize(image, (320, 180)))
    assert ok
    topics = NodeTopics("node-1")
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="console-pub")
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    fall = event("ev-console-fall", utcnow(), kind=EventKind.FALL, zone="rest room")
    pub.publish(topics.snapshot(fall.event_id), jpeg.tobytes(), qos=1).wait_for_publish(5)
    pub.publish(topics.topic(TopicKind.EVENT), fall.to_payload(), qos=1).wait_for_publish(5)
    pub.loop_stop()


def _sign_in(page: Page, url: str, who: str = "li (值班员)", live: str = "实时") -> None:
    page.goto(url)
    page.fill("#username", "li")
    page.fill("#password", "li-password-123")
    page.click("#login button[type=submit]")
    expect(page.locator("#who")).to_have_text(who)
    expect(page.locator("#conn")).to_have_text(live, timeout=15_000)


def _escalations(duty: DutyServer) -> list[str]:
    with duty.client() as http:
        alert = http.get("/api/v1/alerts", params={"kind": "fall"}).json()["items"][0]
        actions = http.get(f"/api/v1/alerts/{alert['id']}/actions").json()
    return [a["action"] for a in actions if a["action"].startswith("escalated")]


def test_console_shows_new_alert_live_and_acknowledging_stops_escalation(
    browser: Browser, duty: DutyServer, broker: MosquittoBroker, media_dir: Path
) -> None:
    page = browser.new_page(viewport={"width": 412, "height": 860})  # a phone
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    _sign_in(page, duty.url + "/")
    assert page.locator("article.alert").count() == 0

    _publish_fall_with_snapshot(broker.port, media_dir)
    card = page.locator("article.alert").first
    expect(card).to_contain_text("跌倒 · st-north · rest room", timeout=15_000)
    expect(card.locator("img")).to_be_visible()
    # The snapshot came through fetch with the token in a header: no token in any URL.
    wait_until(lambda: card.locator("img").evaluate("i => i.naturalWidth") == 320, 10, "image")
    token = page.evaluate("sessionStorage.getItem('uws-token')")
    assert token
    assert not [u for u in urls if "access_token" in u or token in u]
    expect(card.locator(".chip.sev")).to_have_text("紧急")
    expect(card).to_contain_text("升级 1", timeout=15_000)
    # First seen, in the station's zone (Asia/Shanghai), whatever the browser's own zone.
    with duty.client() as http:
        first_at = http.get("/api/v1/alerts").json()["items"][0]["first_at"]
    local = datetime.fromisoformat(first_at).astimezone(ZoneInfo("Asia/Shanghai"))
    expect(card.locator(".meta")).to_contain_text(f"首次发现 {local:%m/%d %H:%M}")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload

    card.get_by_role("button", name="确认收到").click()
    expect(card.locator(".chip.acknowledged")).to_have_text("已确认")
    card.get_by_role("button", name="误报").click()
    expect(card.locator(".chip.verdict")).to_have_text("误报")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "duty-console.zh-CN.png"), full_page=True)
    body = page.locator("body").inner_text()
    assert "值班台" in body
    assert page.evaluate("document.documentElement.lang") == "zh-CN"

    time.sleep(9)  # the second step was due 8 s after the first
    assert _escalations(duty) == ["escalated:1"]
    wait_until(card.is_visible, 5, "the card to stay")


def test_console_refuses_a_wrong_password(browser: Browser, duty: DutyServer) -> None:
    page = browser.new_page()
    page.goto(duty.url + "/")
    page.fill("#username", "li")
    page.fill("#password", "not-the-password")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    expect(page.locator("#board")).to_be_hidden()


def test_a_user_who_chooses_english_keeps_it_across_sign_ins(
    browser: Browser, duty: DutyServer
) -> None:
    page = browser.new_page()
    _sign_in(page, duty.url + "/")
    expect(page.locator("#logout")).to_have_text("退出登录")
    page.select_option("#language", "en")
    expect(page.locator("#logout")).to_have_text("Sign out")
    expect(page.locator("#who")).to_have_text("li (duty)")
    token = page.evaluate("sessionStorage.getItem('uws-token')")

    def language() -> str:
        me = httpx.get(f"{duty.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        return str(me.json()["language"])

    wait_until(lambda: language() == "en", 10, "the setting to be saved")
    fresh = browser.new_page()  # another browser: the choice is the user's, not the tab's
    _sign_in(fresh, duty.url + "/", who="li (duty)", live="live")
    expect(fresh.locator("h1")).to_have_text("Duty console")


def test_signing_out_revokes_the_token(browser: Browser, duty: DutyServer) -> None:
    page = browser.new_page()
    _sign_in(page, duty.url + "/")
    token = page.evaluate("sessionStorage.getItem('uws-token')")
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    wait_until(
        lambda: (
            httpx.get(
                f"{duty.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 401
        ),
        10,
        "the token to be refused",
    )
    with duty.client() as http:
        denied = http.get("/api/v1/audit", params={"actor": "li", "outcome": "denied"}).json()
    assert [d["detail"] for d in denied["items"]] == ["token used after sign-out"]


def test_the_members_own_page_shows_a_code_with_its_credential_in_a_header(
    browser: Browser, duty: DutyServer
) -> None:
    with duty.client() as http:
        member = http.post("/api/v1/members", json={"occupation": "rider"}).json()["id"]
        issued = http.post(f"/api/v1/members/{member}/credential", json={"scopes": ["st-north"]})
    link = issued.json()["page_url"].replace(duty.settings.console_url.rstrip("/"), duty.url)
    credential = issued.json()["credential"]
    page = browser.new_page(viewport={"width": 412, "height": 860})
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(link)
    qr = page.locator("#qr")
    expect(qr).to_be_visible(timeout=10_000)
    wait_until(lambda: qr.evaluate("i => i.naturalWidth") > 100, 10, "the code")
    assert "#" not in page.url  # the credential left the address bar
    assert any("/qr.png?scope=st-north" in u for u in urls)
    assert not [u for u in urls if credential in u or "access_token" in u]
    page.reload()  # the tab keeps working after a reload, from session storage
    wait_until(lambda: page.locator("#qr").evaluate("i => i.naturalWidth") > 100, 10, "reload")
    with duty.client() as http:
        http.post(f"/api/v1/members/{member}/revoke").raise_for_status()
    page.reload()
    expect(page.locator("#note")).to_contain_text("expired", timeout=10_000)
