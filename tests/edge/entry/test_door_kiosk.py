"""Face enrolment started at the door, end to end: the member's phone page gives an enrolment
code (cloud-duty's qr.png, purpose enrol, with the member's own credential), the door camera
reads it, the zh-CN consent text goes to the door screen over the station broker, the agree
button is pressed, the next door frames (real faces) are enrolled and the consent lands in
cloud-duty. An entry code never starts it; a forged, expired or replayed enrolment code is
refused, shown, and audited up to cloud-duty."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devkit.localbroker import LocalBroker
from edge.config import CloudConfig
from edge.devices.config import DevicesConfig, StationBrokerConfig
from edge.devices.link import StationDevices
from edge.entry.config import EntrySettings
from edge.entry.controller import EntryConfig
from edge.entry.door_kiosk import LOOK, Phase
from edge.entry.kiosk import CODE_REFUSED, DECLINED, ENROLLED
from edge.entry.service import EntryService
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.tokens import TokenSigner, new_private_key
from tests.edge.entry.station import DoorSimulator, OffsetClock, decode_image, load_image, qr_frame
from tests.edge.entry.test_kiosk import _face_frames
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until
from vision.qr import Frame

pytestmark = pytest.mark.integration

SCREEN = "dev/door/screen/command"


class StationPanel:
    """The door's screen and agree button as the station broker carries them."""

    def __init__(self, port: int) -> None:
        self.shown: list[str] = []
        self._subscribed = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="door-panel")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(SCREEN, qos=1)
        self._client.loop_start()
        assert self._subscribed.wait(10)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.shown.append(msg.payload.decode())

    def press_agree(self) -> None:
        """Press and release the agree button, as the ESPHome binary sensor reports it."""
        for state in ("ON", "OFF"):
            self._client.publish("dev/door/agree/state", state, qos=1).wait_for_publish(10)

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@dataclass
class Door:
    """A node's entry service with faces, on a real station broker, against cloud-duty."""

    service: EntryService
    panel: StationPanel
    door: DoorSimulator
    admin: httpx.Client
    clock: OffsetClock
    duty: DutyServer


@pytest.fixture
def door(tmp_path: Path, broker: MosquittoBroker, pg_url: str, models_dir: Path) -> Iterator[Door]:
    station_broker = LocalBroker(tmp_path / "station-broker")
    station_broker.start()
    duty = DutyServer(pg_url, broker.port, key_file=str(tmp_path / "keys.json")).start()
    duty.register("st-1", "node-1")
    admin = duty.client()
    settings = EntrySettings.model_validate(
        {
            "policy": EntryConfig(
                station_id="st-1",
                public_key=admin.get("/api/v1/entry/sync").json()["public_key"],
                state_path=tmp_path / "entry.sqlite",
                repeat_ignore_s=0,  # every showing counts, to show replays
            ),
            "duty_url": duty.url,
            "duty_token": duty.node_token("node-1"),
            "face": {
                "yunet": models_dir / "face" / "face_detection_yunet_2023mar.onnx",
                "gallery_path": tmp_path / "gallery.bin",
                "gallery_key_file": tmp_path / "gallery.key",
                "enrol_read_s": 30,
            },
        }
    )
    devices = StationDevices(DevicesConfig(broker=StationBrokerConfig(port=station_broker.port)))
    uplink = Uplink("node-1", CloudConfig(port=broker.port), Outbox(tmp_path / "outbox.sqlite"))
    clock = OffsetClock()
    service = EntryService("node-1", settings, devices, uplink, clock)
    panel, simulator = StationPanel(station_broker.port), DoorSimulator(station_broker.port)
    try:
        uplink.start()
        assert devices.start(15)
        assert uplink.wait_connected(15)
        yield Door(service, panel, simulator, admin, clock, duty)
    finally:
        service.stop()
        devices.stop()
        uplink.stop()
        panel.stop()
        simulator.stop()
        admin.close()
        duty.stop()
        station_broker.stop()


def _phase(service: EntryService) -> Phase:
    assert service.door_kiosk is not None
    return service.door_kiosk.phase


def _member(admin: httpx.Client) -> str:
    return str(admin.post("/api/v1/members", json={"station_id": "st-1"}).json()["id"])


def _phone_code(door: Door, member: str, photo: Path) -> Frame:
    """The enrolment QR the member's own page fetches, held up in front of the door camera."""
    body = {"scopes": ["st-1"]}
    credential = door.admin.post(f"/api/v1/members/{member}/credential", json=body).json()
    headers = {"Authorization": f"Bearer {credential['credential']}"}
    with httpx.Client(base_url=door.duty.url, headers=headers, timeout=10) as phone:
        query: dict[str, str | int] = {"scope": "st-1", "ttl_s": 40, "purpose": "enrol"}
        png = phone.get(f"/api/v1/members/{member}/qr.png", params=query)
    assert png.status_code == 200, png.text
    frame, code = load_image(photo), decode_image(png.content)
    frame[100 : 100 + code.shape[0], 50 : 50 + code.shape[1]] = code
    return np.ascontiguousarray(frame)


def test_an_enrolment_code_at_the_door_shows_the_text_and_enrols_after_agree(
    door: Door, models_dir: Path, media_dir: Path
) -> None:
    service, admin = door.service, door.admin
    assert service.door_kiosk is not None
    assert service.gallery is not None
    member = _member(admin)
    photo = media_dir / "people" / "zidane.jpg"

    # An ordinary entry code opens the door and starts no enrolment.
    entry = admin.post(f"/api/v1/members/{member}/tokens", json={"scopes": ["st-1"]}).json()
    decision = service.on_frame(qr_frame(entry["token"], photo, (400, 100)))
    assert decision is not None
    assert decision.allowed
    assert _phase(service) is Phase.IDLE
    wait_until(lambda: door.door.commands, 10, "the unlock")

    assert service.on_frame(_phone_code(door, member, photo)) is None
    assert _phase(service) is Phase.READING
    [face_text] = [t for t in admin.get("/api/v1/consent-texts").json() if t["kind"] == "face"][-1:]
    wait_until(lambda: face_text["text"] in door.panel.shown, 10, "the consent text on screen")
    assert face_text["text"].startswith("# 人脸")  # zh-CN first
    assert len(door.door.commands) == 1  # the enrolment code opened nothing

    door.panel.press_agree()
    wait_until(lambda: _phase(service) is Phase.CAPTURING, 10, "the agree press")
    _, faces = _face_frames(models_dir, media_dir)
    for i in range(12):
        if _phase(service) is Phase.IDLE:
            break
        assert service.on_frame(faces[i % len(faces)]) is None  # no face entry meanwhile
    assert _phase(service) is Phase.IDLE
    assert service.gallery.members() == [member]
    [consent] = admin.get(f"/api/v1/members/{member}/consents").json()
    assert (consent["kind"], consent["station_id"]) == ("face", "st-1")
    assert (consent["text_version"], consent["text_sha256"]) == (
        face_text["version"],
        face_text["sha256"],
    )
    wait_until(lambda: door.panel.shown[-1:] == [ENROLLED], 10, "the result on screen")
    assert LOOK in door.panel.shown


def test_forged_expired_and_replayed_enrolment_codes_are_refused_and_audited(
    door: Door, media_dir: Path
) -> None:
    service, admin = door.service, door.admin
    assert service.door_kiosk is not None
    assert service.gallery is not None
    member = _member(admin)
    photo = media_dir / "people" / "bus.jpg"

    forged = TokenSigner(new_private_key()).issue_enrolment(member, ["st-1"], door.clock())[0]
    assert service.on_frame(qr_frame(forged, photo)) is None
    assert _phase(service) is Phase.IDLE

    expired = _phone_code(door, member, photo)
    door.clock.offset = timedelta(minutes=5)
    assert service.on_frame(expired) is None
    assert _phase(service) is Phase.IDLE
    door.clock.offset = timedelta()

    # Shown and not agreed to: declined when the reading time runs out, nothing kept; the
    # same code again is a replay.
    code = _phone_code(door, member, photo)
    service.on_frame(code)
    assert _phase(service) is Phase.READING
    door.clock.offset = timedelta(seconds=31)  # past the reading time, the code still good
    service.door_kiosk.tick()
    assert _phase(service) is Phase.IDLE
    wait_until(lambda: DECLINED in door.panel.shown, 10, "the decline on screen")
    service.on_frame(code)
    assert _phase(service) is Phase.IDLE

    assert service.gallery.members() == []
    assert admin.get(f"/api/v1/members/{member}/consents").json() == []
    assert door.door.commands == []  # no enrolment code opens the door
    wait_until(lambda: door.panel.shown.count(CODE_REFUSED) == 3, 10, "the refusals on screen")
    refused = [e.reason for e in service.store.audit_log() if e.outcome == "refused"]
    expected = ["enrolment code forged", "enrolment code expired", "enrolment code replayed"]
    assert refused == expected

    def uplinked() -> list[str]:
        query = {"actor": "node:node-1", "outcome": "denied"}
        items = admin.get("/api/v1/audit", params=query).json()["items"]
        return sorted(item["detail"].split(": ", 1)[1] for item in items)

    wait_until(lambda: len(uplinked()) == 3, 30, "the refusals in cloud-duty's audit log")
    assert uplinked() == sorted(f"qr, {reason}" for reason in expected)
