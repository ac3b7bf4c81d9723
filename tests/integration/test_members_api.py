"""cloud-duty's member, consent, token and occupancy API on PostgreSQL, bad input included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text

from station.contracts import NodeTopics, TopicKind, Visit, VisitMethod
from station.tokens import TokenVerifier
from tests.edge.entry.station import decode_image
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until
from vision.qr import QrReader

pytestmark = pytest.mark.integration


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str) -> Iterator[DutyServer]:
    server = DutyServer(pg_url, broker.port).start()
    server.register("st-1", "node-1")
    yield server
    server.stop()


def _count(duty: DutyServer, table: str) -> int:
    engine = create_engine(duty.settings.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def test_members_are_pseudonymous_and_the_phone_is_only_hashed(duty: DutyServer) -> None:
    with duty.client() as http:
        body = {"occupation": "courier", "employer_platform": "meituan", "phone": "13800000001"}
        created = http.post("/api/v1/members", json=body)
        assert created.status_code == 201
        member = created.json()
        assert member["id"].startswith("m-")
        assert member["has_phone"] is True
        assert "13800000001" not in created.text
        again = http.post("/api/v1/members", json={**body, "phone": "138 0000 0001"})
        assert again.status_code == 409  # the same number, written differently
    engine = create_engine(duty.settings.database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT phone_hash FROM member")).scalar_one()
    finally:
        engine.dispose()
    assert len(stored) == 64
    assert "13800000001" not in stored


def test_bad_input_gets_a_clear_error_and_changes_nothing(duty: DutyServer) -> None:
    with duty.client() as http:
        member = http.post("/api/v1/members", json={"occupation": "rider"}).json()["id"]
        bad: list[tuple[str, str, dict[str, Any] | None, int]] = [
            ("post", "/api/v1/members", {"occupation": "x", "name": "Li Lei"}, 422),
            ("post", "/api/v1/members", {"phone": "call me"}, 422),
            ("post", "/api/v1/members", {"occupation": "x" * 5000}, 422),
            ("get", "/api/v1/members/m-nobody", None, 404),
            ("post", "/api/v1/members/m-nobody/tokens", {"scopes": ["st-1"]}, 404),
            ("post", f"/api/v1/members/{member}/tokens", {"scopes": []}, 422),
            ("post", f"/api/v1/members/{member}/tokens", {"scopes": ["st-1"] * 9}, 422),
            ("post", f"/api/v1/members/{member}/tokens", {"scopes": ["st 1"]}, 409),
            ("post", f"/api/v1/members/{member}/tokens", {"scopes": ["st-1"], "ttl_s": 1}, 422),
            (
                "post",
                f"/api/v1/members/{member}/consents",
                {"kind": "face_sharing", "text_version": "v1", "station_id": "st-1"},
                409,
            ),
            (
                "post",
                f"/api/v1/members/{member}/consents",
                {"kind": "face", "text_version": "v1", "station_id": "st-404"},
                404,
            ),
            (
                "post",
                f"/api/v1/members/{member}/consents",
                {"kind": "fingerprint", "text_version": "v1", "station_id": "st-1"},
                422,
            ),
            ("post", f"/api/v1/members/{member}/consents/99/withdraw", None, 404),
            ("get", "/api/v1/stations/st-404/occupancy", None, 404),
        ]
        for method, path, body, code in bad:
            response = http.request(method, path, json=body)
            assert response.status_code == code, (path, body, response.text)
            assert response.json()["detail"]
        http.post(f"/api/v1/members/{member}/revoke", params={"reason": "lost phone"})
        refused = http.post(f"/api/v1/members/{member}/tokens", json={"scopes": ["st-1"]})
        assert refused.status_code == 409
        assert "revoked" in refused.json()["detail"]
    assert _count(duty, "member") == 1
    assert _count(duty, "consent") == 0


def test_qr_png_and_the_self_refreshing_member_page(duty: DutyServer) -> None:
    with duty.client() as http:
        member = http.post("/api/v1/members", json={}).json()["id"]
        png = http.get(f"/api/v1/members/{member}/qr.png", params={"scope": "st-1"})
        assert png.headers["content-type"] == "image/png"
        image = decode_image(png.content)
        token = QrReader().read(image)
        assert token is not None
        key = http.get("/api/v1/entry/sync").json()["public_key"]
        claims = TokenVerifier(key, "st-1").verify(token, datetime.now(UTC))
        assert claims.member_id == member
        issued = http.post(f"/api/v1/members/{member}/credential", json={"scopes": ["st-1"]})
        assert issued.status_code == 201
        link = issued.json()["page_url"]
        path, fragment = link.split("#", 1)
        assert fragment.startswith("c=UWM1.")  # in the fragment: never sent to a server
        assert "access_token" not in link
        page = http.get(path.removeprefix(duty.settings.console_url.rstrip("/")))
        assert page.status_code == 200
        assert "setInterval(load, 30000)" in page.text
        assert "Authorization" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
    # The member's phone holds the member credential only: their own codes, nothing more.
    own = {"Authorization": f"Bearer {issued.json()['credential']}"}
    with httpx.Client(base_url=duty.url, headers=own, timeout=10) as phone:
        png = phone.get(f"/api/v1/members/{member}/qr.png", params={"scope": "st-1"})
        assert png.status_code == 200
        token = QrReader().read(decode_image(png.content))
        assert token is not None
        assert TokenVerifier(key, "st-1").verify(token, datetime.now(UTC)).member_id == member
        assert phone.get("/api/v1/alerts").status_code == 403
        assert (
            phone.get(f"/api/v1/members/{member}/qr.png", params={"scope": "st-2"}).status_code
            == 403
        )


def test_occupancy_and_dwell_time_from_visits_over_mqtt(
    duty: DutyServer, broker: MosquittoBroker
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    visits = [
        Visit(
            visit_id="v-1",
            node_id="node-1",
            member_id="m-1",
            method=VisitMethod.QR,
            entered_at=start,
            exited_at=start + timedelta(minutes=20),
        ),
        Visit(
            visit_id="v-2",
            node_id="node-1",
            member_id="m-2",
            method=VisitMethod.FACE,
            entered_at=start,
            exited_at=start + timedelta(minutes=40),
        ),
        Visit(
            visit_id="v-3",
            node_id="node-1",
            member_id="m-3",
            method=VisitMethod.QR,
            entered_at=start + timedelta(minutes=50),
        ),
    ]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="visits-pub")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    topic = NodeTopics("node-1").topic(TopicKind.VISIT)
    for visit in visits:
        client.publish(topic, visit.to_payload(), qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()
    with duty.client() as http:
        wait_until(lambda: http.get("/api/v1/visits").json()["total"] == 3, 30, "visits")
        occupancy = http.get("/api/v1/stations/st-1/occupancy", params={"hours": 2}).json()
    assert occupancy["inside"] == 1
    assert occupancy["visits_since"] == 3
    assert occupancy["mean_dwell_s"] == pytest.approx(1800)
    assert occupancy["max_dwell_s"] == pytest.approx(2400)
