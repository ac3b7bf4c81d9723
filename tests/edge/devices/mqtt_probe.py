"""A small MQTT v5 client for broker tests: connect, subscribe and publish with reason codes."""

from __future__ import annotations

import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.edge.devices.support import WAIT_S


class Probe:
    """One connection; every call waits for the broker's answer and returns its reason code."""

    def __init__(
        self, port: int, user: str | None, password: str | None, ca: str | None = None
    ) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        if ca is not None:
            self.client.tls_set(ca_certs=ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        self.received: list[tuple[str, bytes]] = []
        self._cond = threading.Condition()
        self._answers: dict[Any, Any] = {}
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda _c, _u, mid, codes, _p: self._answer(mid, codes[0])
        self.client.on_publish = lambda _c, _u, mid, code, _p: self._answer(mid, code)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.connect_code = self._wait("connect")

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, code: Any, _p: Any) -> None:
        self._answer("connect", code)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.received.append((msg.topic, bytes(msg.payload)))
            self._cond.notify_all()

    def _answer(self, key: Any, code: Any) -> None:
        with self._cond:
            self._answers[key] = code
            self._cond.notify_all()

    def _wait(self, key: Any) -> Any:
        with self._cond:
            assert self._cond.wait_for(lambda: key in self._answers, WAIT_S), f"no answer to {key}"
            return self._answers.pop(key)

    @property
    def connected(self) -> bool:
        return not self.connect_code.is_failure

    def subscribe(self, topic: str) -> bool:
        """Return whether the broker granted the subscription."""
        _rc, mid = self.client.subscribe(topic, qos=1)
        return not self._wait(mid).is_failure

    def publish(self, topic: str, payload: bytes = b"{}") -> bool:
        """Publish QoS 1; return whether the broker accepted it (its PUBACK reason code)."""
        info = self.client.publish(topic, payload, qos=1)
        return not self._wait(info.mid).is_failure

    def wait_message(self, topic: str, payload: bytes) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: (topic, payload) in self.received, WAIT_S), (
                f"{topic} {payload!r} not received; got {self.received}"
            )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
