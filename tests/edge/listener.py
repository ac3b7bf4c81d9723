"""A raw paho subscriber for tests: persistent session, QoS 1, collects everything it gets."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from station.contracts import (
    MESSAGE_ID_PROPERTY,
    Event,
    EventKind,
    EventPhase,
    NodeTopics,
    Receipt,
    TopicKind,
    parse_topic,
    utcnow,
)


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool


class Listener:
    """Subscribes to `topic_filter` with QoS 1 on a session the broker keeps across restarts."""

    def __init__(self, port: int, topic_filter: str, receipts: bool = False) -> None:
        self.topic_filter = topic_filter
        self.receipts = receipts  # stand in for cloud-duty: receipt each message taken
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-listener-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self._subscribed.wait(10), "listener did not subscribe"

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(self.topic_filter, qos=1)

    def _on_subscribe(self, *_: Any) -> None:
        self._subscribed.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()
        if self.receipts:
            self._receipt(msg)

    def _receipt(self, msg: mqtt.MQTTMessage) -> None:
        props = getattr(msg, "properties", None)
        pairs = getattr(props, "UserProperty", None) or []
        ids = [int(v) for k, v in pairs if k == MESSAGE_ID_PROPERTY]
        if ids:
            node_id = parse_topic(msg.topic)[0]
            receipt = Receipt(node_id=node_id, message_ids=ids, ts=utcnow())
            topic = NodeTopics(node_id).topic(TopicKind.RECEIPT)
            self.client.publish(topic, receipt.to_payload(), qos=1)

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout_s: float = 30.0
    ) -> list[Received]:
        """Wait until `predicate(messages)` holds; fail the test if it never does."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    topics = [m.topic for m in self.messages]
                    raise AssertionError(f"condition not met in {timeout_s} s; got {topics}")
                self._cond.wait(min(left, 0.5))
            return list(self.messages)

    def on(self, topic: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_event(node_id: str, seq: int, event_id: str = "evt-test") -> Event:
    """Return a valid person event: message `seq` of event `event_id`."""
    now = utcnow()
    return Event(
        event_id=event_id,
        node_id=node_id,
        camera_id="main",
        kind=EventKind.PERSON,
        phase=EventPhase.NEW if seq == 0 else EventPhase.UPDATE,
        seq=seq,
        ts=now,
        started_at=now,
        score=0.5,
        zone="room",
        count=seq,
    )
