"""The node's entry service end to end: camera frames, background sync, remote unlock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devkit.localbroker import LocalBroker
from edge.config import CloudConfig
from edge.devices.config import DevicesConfig, StationBrokerConfig
from edge.devices.link import StationDevices
from edge.entry.config import EntrySettings
from edge.entry.controller import EntryConfig
from edge.entry.service import EntryService
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.contracts import Command, CommandName, NodeTopics, TopicKind, utcnow
from tests.edge.entry.station import DoorSimulator, load_image, qr_frame
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until

pytestmark = pytest.mark.integration


def test_frames_sync_and_remote_unlock_through_the_service(
    tmp_path: Path, broker: MosquittoBroker, pg_url: str, media_dir: Path
) -> None:
    station_broker = LocalBroker(tmp_path / "station-broker")
    station_broker.start()
    duty = DutyServer(pg_url, broker.port).start()
    duty.register("st-1", "node-1")
    http = duty.client()
    door = DoorSimulator(station_broker.port)
    member = http.post("/api/v1/members", json={"occupation": "cleaner"}).json()["id"]
    key = http.get("/api/v1/entry/sync").json()["public_key"]
    settings = EntrySettings(
        policy=EntryConfig(station_id="st-1", public_key=key, state_path=tmp_path / "e.sqlite"),
        duty_url=duty.url,
        duty_token=duty.node_token("node-1"),
        sync_interval_s=1,
    )
    devices = StationDevices(DevicesConfig(broker=StationBrokerConfig(port=station_broker.port)))
    uplink = Uplink("node-1", CloudConfig(port=broker.port), Outbox(tmp_path / "outbox.sqlite"))
    service = EntryService("node-1", settings, devices, uplink)
    photo = media_dir / "people" / "zidane.jpg"

    def token() -> str:
        body = {"scopes": ["st-1"]}
        response = http.post(f"/api/v1/members/{member}/tokens", json=body)
        response.raise_for_status()
        return str(response.json()["token"])

    try:
        uplink.start()
        assert devices.start(15)
        assert uplink.wait_connected(15)
        service.start()
        decision = service.on_frame(qr_frame(token(), photo, (400, 100)))
        assert decision is not None
        assert decision.allowed
        wait_until(lambda: http.get("/api/v1/visits").json()["total"] == 1, 30, "the visit")

        fresh = token()
        http.post(f"/api/v1/members/{member}/revoke").raise_for_status()
        wait_until(lambda: service.store.is_revoked(member), 30, "the revocation to sync")
        refused = service.on_frame(qr_frame(fresh, photo, (400, 100)))
        assert refused is not None
        assert refused.reason == "revoked"

        command = Command(
            cmd_id="c-1",
            name=CommandName.UNLOCK,
            issued_by="duty:wang",
            reason="locked out",
            issued_at=utcnow(),
            expires_at=utcnow() + timedelta(seconds=60),
        )
        sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="duty-cmd")
        sender.connect("127.0.0.1", broker.port)
        sender.loop_start()
        topic = NodeTopics("node-1").topic(TopicKind.CMD)
        sender.publish(topic, command.to_payload(), qos=1).wait_for_publish(10)
        sender.loop_stop()
        sender.disconnect()
        wait_until(lambda: http.get("/api/v1/visits").json()["total"] == 2, 30, "remote visit")
        methods = sorted(v["method"] for v in http.get("/api/v1/visits").json()["items"])
        assert methods == ["qr", "remote"]
        assert [c for c, _ in door.commands] == ["UNLOCK", "UNLOCK"]
    finally:
        service.stop()
        devices.stop()
        uplink.stop()
        door.stop()
        http.close()
        duty.stop()
        station_broker.stop()


def test_face_entry_settings_build_a_gate_and_a_private_gallery_key(
    tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    settings = EntrySettings.model_validate(
        {
            "policy": {
                "station_id": "st-1",
                "public_key": "96cpxMKcNebWyUN_0H92R_r_GZ8GMVGzitsNWBtfN7I",
                "state_path": tmp_path / "e.sqlite",
            },
            "duty_url": "http://127.0.0.1:9",
            "duty_token": "uwsn_node-token",
            "face": {
                "yunet": models_dir / "face" / "face_detection_yunet_2023mar.onnx",
                "gallery_path": tmp_path / "gallery.bin",
                "gallery_key_file": tmp_path / "keys" / "gallery.key",
                "frames": 2,
            },
        }
    )
    devices = StationDevices(DevicesConfig(broker=StationBrokerConfig(port=9)))
    uplink = Uplink("node-1", CloudConfig(port=9), Outbox(tmp_path / "outbox.sqlite"))
    service = EntryService("node-1", settings, devices, uplink)
    try:
        assert (tmp_path / "keys" / "gallery.key").stat().st_mode & 0o777 == 0o600
        assert service.sync() is False  # no cloud: the last state is kept
        frame = load_image(media_dir / "people" / "bus.jpg")
        decisions = [service.on_frame(frame) for _ in range(2)]
        assert decisions[0] is None
        assert decisions[1] is not None
        assert decisions[1].reason == "no_match"  # nobody enrolled yet
        assert service.kiosk is not None  # enrolment at the door comes with face entry
    finally:
        service.stop()
