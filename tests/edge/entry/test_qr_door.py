"""QR entry end to end: a real photo with a fresh code -> UNLOCK on the station broker ->
the door contact -> a Visit through the outbox into cloud-duty on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.localbroker import LocalBroker
from edge.entry.controller import qr_from_frame
from edge.entry.sync import sync_entry
from station.tokens import TokenSigner, new_private_key
from tests.edge.entry.station import DoorSimulator, NodeEntry, qr_frame, start_node
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until
from vision.qr import QrReader

pytestmark = pytest.mark.integration


@dataclass
class Site:
    """cloud-duty, a station broker with a door, one node, and a member."""

    duty: DutyServer
    http: httpx.Client
    cloud: MosquittoBroker
    door: DoorSimulator
    node: NodeEntry
    member_id: str
    public_key: str
    photo: Path

    def token(self, scopes: list[str] | None = None, ttl_s: int = 30) -> str:
        body = {"scopes": scopes or ["st-1"], "ttl_s": ttl_s}
        response = self.http.post(f"/api/v1/members/{self.member_id}/tokens", json=body)
        response.raise_for_status()
        token: str = response.json()["token"]
        return token

    def visits(self) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/visits", params={"station_id": "st-1"})
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
def site(tmp_path: Path, broker: MosquittoBroker, pg_url: str, media_dir: Path) -> Iterator[Site]:
    station_broker = LocalBroker(tmp_path / "station-broker")
    station_broker.start()
    duty = DutyServer(pg_url, broker.port).start()
    duty.register("st-1", "node-1")
    http = duty.client()
    member = http.post(
        "/api/v1/members", json={"occupation": "courier", "phone": "+86 138 0000 0001"}
    )
    member.raise_for_status()
    public_key = http.get("/api/v1/entry/sync").json()["public_key"]
    door = DoorSimulator(station_broker.port)
    node = start_node(
        tmp_path / "node",
        "node-1",
        "st-1",
        public_key,
        station_broker.port,
        broker.port,
        repeat_ignore_s=0,
    )
    yield Site(
        duty,
        http,
        broker,
        door,
        node,
        member.json()["id"],
        public_key,
        media_dir / "people" / "bus.jpg",
    )
    node.stop()
    door.stop()
    http.close()
    duty.stop()
    station_broker.stop()


def test_qr_on_a_photo_opens_the_door_and_records_a_visit(site: Site) -> None:
    frame = qr_frame(site.token(), site.photo)

    decision = qr_from_frame(site.node.controller, QrReader(), frame)

    assert decision is not None
    assert decision.allowed, decision
    wait_until(lambda: site.door.commands, 20, "the unlock command")
    assert site.door.commands == [("UNLOCK", False)]  # never a retained command
    wait_until(site.visits, 30, "the visit in cloud-duty")
    [visit] = site.visits()
    assert visit["member_id"] == site.member_id
    assert visit["method"] == "qr"
    assert visit["exited_at"] is None
    occupancy = site.http.get("/api/v1/stations/st-1/occupancy").json()
    assert occupancy["inside"] == 1


def test_each_bad_token_is_refused_with_its_reason_and_no_command(site: Site) -> None:
    controller = site.node.controller
    forged, _ = TokenSigner(new_private_key()).issue(site.member_id, ["st-1"], site.node.clock())
    good = site.token()
    assert controller.present_qr(good) is not None  # used once: its replay must fail
    wait_until(lambda: site.door.commands, 20, "the first unlock")
    cases: list[tuple[str, str, timedelta]] = [
        ("expired", site.token(ttl_s=5), timedelta(seconds=60)),
        ("not_yet_valid", site.token(), timedelta(seconds=-60)),
        ("wrong_station", site.token(scopes=["st-2"]), timedelta()),
        ("forged", forged, timedelta()),
        ("replayed", good, timedelta()),
        ("malformed", "https://example.com/not-a-token", timedelta()),
        ("malformed", "UWS1." + "A" * 2000, timedelta()),
    ]
    revoked_token = site.token()
    for reason, token, offset in cases:
        site.node.clock.offset = offset
        decision = controller.present_qr(token)
        assert decision is not None
        assert not decision.allowed
        assert decision.reason == reason
    site.node.clock.offset = timedelta()
    site.http.post(f"/api/v1/members/{site.member_id}/revoke").raise_for_status()
    with httpx.Client(base_url=site.duty.url, headers=site.http.headers) as client:
        sync_entry(client, site.node.store, None, site.public_key)
    cases.append(("revoked", revoked_token, timedelta()))
    decision = controller.present_qr(revoked_token)
    assert decision is not None
    assert decision.reason == "revoked"

    reasons = [e.reason for e in site.node.store.audit_log() if e.outcome == "refused"]
    assert reasons == [reason for reason, _, _ in cases]
    # A marker from the same client arrives after anything sent before it (MQTT keeps order).
    site.node.devices.link.send("dev/door/lock/command", "LOCK")
    wait_until(lambda: len(site.door.commands) >= 2, 20, "the marker")
    assert site.door.commands == [("UNLOCK", False), ("LOCK", False)]


def test_qr_entry_works_with_the_cloud_down_and_the_visit_arrives_later(site: Site) -> None:
    token = site.token()
    site.duty.stop()
    site.cloud.stop()
    wait_until(lambda: not site.node.uplink.connected, 20, "the uplink to notice")

    decision = qr_from_frame(site.node.controller, QrReader(), qr_frame(token, site.photo))

    assert decision is not None
    assert decision.allowed
    wait_until(lambda: site.door.commands, 20, "the unlock command while offline")
    wait_until(lambda: site.node.uplink.outbox.depth() >= 1, 20, "the visit in the outbox")
    site.cloud.start()
    duty = DutyServer(site.duty.settings.database_url, site.cloud.port).start()
    try:
        with duty.client() as http:
            wait_until(
                lambda: http.get("/api/v1/visits").json()["total"] == 1, 60, "the late visit"
            )
            [visit] = http.get("/api/v1/visits").json()["items"]
        assert visit["member_id"] == site.member_id
        assert visit["method"] == "qr"
    finally:
        duty.stop()
