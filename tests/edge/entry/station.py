"""A simulated door controller on a real station broker, QR frames and a node's entry stack."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import CloudConfig
from edge.devices.config import DevicesConfig, StationBrokerConfig
from edge.devices.link import StationDevices
from edge.entry.controller import EntryConfig, EntryController, contact_listener
from edge.entry.store import EntryStore
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.contracts import utcnow
from station.tokens import qr_png
from tests.support.duty_server import wait_until
from vision.qr import Frame

DOOR = "door"


class DoorSimulator:
    """Behaves like an ESPHome door controller: UNLOCK -> UNLOCKED, then the contact opens."""

    def __init__(self, port: int, open_on_unlock: bool = True) -> None:
        self.commands: list[tuple[str, bool]] = []
        self.open_on_unlock = open_on_unlock
        self.received = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="door-sim")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(f"dev/{DOOR}/lock/command", qos=1)
        self._client.loop_start()
        self._client.publish(f"dev/{DOOR}/status", "online", qos=1, retain=True)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        command = msg.payload.decode()
        self.commands.append((command, bool(msg.retain)))
        state = "UNLOCKED" if command == "UNLOCK" else "LOCKED"
        self._client.publish(f"dev/{DOOR}/lock/state", state, qos=1, retain=True)
        if command == "UNLOCK" and self.open_on_unlock:
            self.contact(True)
        self.received.set()

    def contact(self, is_open: bool) -> None:
        """Move the door contact, as the reed switch would."""
        self._client.publish(f"dev/{DOOR}/contact/state", "ON" if is_open else "OFF", qos=1)

    def stop(self) -> None:
        """Disconnect."""
        self._client.loop_stop()
        self._client.disconnect()


class OffsetClock:
    """The wall clock, moved by a settable offset (for expiry and not-yet-valid cases)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


def load_image(path: Path) -> Frame:
    """Read an image file as a BGR frame, failing loudly if it is not there."""
    image = cv2.imread(str(path))
    assert image is not None, f"cannot read {path}"
    return np.asarray(image, dtype=np.uint8)


def decode_image(data: bytes) -> Frame:
    """Decode PNG or JPEG bytes to a BGR frame."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "undecodable image"
    return np.asarray(image, dtype=np.uint8)


def qr_frame(token: str, photo: Path, at: tuple[int, int] = (560, 300)) -> Frame:
    """A real photo with the token's QR code pasted on it, as a phone held up would be."""
    frame = load_image(photo)
    code = decode_image(qr_png(token, scale=4))
    y, x = at
    frame[y : y + code.shape[0], x : x + code.shape[1]] = code
    return np.ascontiguousarray(frame)


@dataclass
class NodeEntry:
    """One node's entry stack wired to a station broker and the cloud broker."""

    controller: EntryController
    store: EntryStore
    uplink: Uplink
    devices: StationDevices
    clock: OffsetClock
    extra: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the links and close the files."""
        self.devices.stop()
        self.uplink.stop()
        self.store.close()


def start_node(
    workdir: Path,
    node_id: str,
    station_id: str,
    public_key: str,
    station_port: int,
    cloud_port: int,
    **policy: Any,
) -> NodeEntry:
    """Build and start the entry stack of a node."""
    clock = OffsetClock()
    store = EntryStore(workdir / "entry.sqlite")
    uplink = Uplink(node_id, CloudConfig(port=cloud_port), Outbox(workdir / "outbox.sqlite"))
    config = EntryConfig(
        station_id=station_id,
        public_key=public_key,
        state_path=workdir / "entry.sqlite",
        **policy,
    )
    devices = StationDevices(DevicesConfig(broker=StationBrokerConfig(port=station_port)))
    door = devices.door
    controller = EntryController(node_id, config, store, door, uplink, clock)
    devices.registry.listen(contact_listener(controller, door.device_id))
    uplink.start()
    assert devices.start(15), "station broker link did not come up"
    wait_until(lambda: door.availability.value == "online", 15, "door availability")
    return NodeEntry(controller, store, uplink, devices, clock)
