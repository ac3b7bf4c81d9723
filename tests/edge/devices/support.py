"""Helpers for the device tests: an event collector and a spy on the station broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.analysis import to_contract_event
from station.contracts import Event, EventKind, EventPhase
from vision.events import HazardEvent

WAIT_S = 15.0  # generous: the machine is shared; nothing here asserts on time


class Collected:
    """Events emitted by the rules, in order, with a condition to wait on."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, device_id: str, event: HazardEvent) -> None:
        with self._cond:
            self.events.append(to_contract_event("node-1", event, device_id=device_id))
            self._cond.notify_all()

    def kinds(self) -> list[tuple[EventKind, EventPhase, str, str]]:
        with self._cond:
            return [(e.kind, e.phase, e.source_id, e.zone) for e in self.events]

    def wait(self, kind: EventKind, phase: EventPhase, timeout_s: float = WAIT_S) -> Event:
        def find() -> Event | None:
            return next((e for e in self.events if e.kind is kind and e.phase is phase), None)

        with self._cond:
            assert self._cond.wait_for(lambda: find() is not None, timeout_s), (
                f"no {kind} {phase} in {self.kinds()}"
            )
            found = find()
            assert found is not None
            return found


class Spy:
    """Records every message under dev/# on a broker, retained flag included."""

    def __init__(self, port: int) -> None:
        self.messages: list[tuple[str, str, bool]] = []
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_args: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._ready.wait(WAIT_S), "no SUBACK"

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        client.subscribe("dev/#", qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((msg.topic, msg.payload.decode(), bool(msg.retain)))
            self._cond.notify_all()

    def commands(self) -> list[tuple[str, str]]:
        with self._cond:
            return [(t, p) for t, p, _ in self.messages if t.endswith("/command")]

    def wait(self, topic: str, payload: str, timeout_s: float = WAIT_S) -> None:
        with self._cond:
            assert self._cond.wait_for(
                lambda: any(t == topic and p == payload for t, p, _ in self.messages), timeout_s
            ), f"no {payload} on {topic}; saw {self.messages[-20:]}"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
