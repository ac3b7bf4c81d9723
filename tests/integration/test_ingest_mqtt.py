"""cloud-duty ingest through a real Mosquitto into a real PostgreSQL database."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from station.contracts import EventKind, NodeTopics, TopicKind, utcnow
from station.duty.services import services_of
from tests.duty.messages import event
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, FeedReader, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str) -> Iterator[DutyServer]:
    """cloud-duty on PostgreSQL and the test broker, with st-1 / node-1 registered."""
    server = DutyServer(pg_url, broker.port).start()
    server.register("st-1", "node-1")
    yield server
    server.stop()


def _publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _alerts(duty: DutyServer, **params: str) -> list[dict[str, object]]:
    with duty.client() as http:
        items: list[dict[str, object]] = http.get("/api/v1/alerts", params=params).json()["items"]
        return items


def test_event_over_mqtt_becomes_one_alert_on_rest_and_feed(
    broker: MosquittoBroker, duty: DutyServer
) -> None:
    feed = FeedReader(duty.url).start()
    pub = _publisher(broker.port)
    msg = event("ev-mqtt-1", utcnow(), kind=EventKind.FIRE)
    topic = NodeTopics("node-1").topic(TopicKind.EVENT)
    for _ in range(3):  # QoS 1 may deliver twice; the node's outbox may re-send
        pub.publish(topic, msg.to_payload(), qos=1).wait_for_publish(5)
    wait_until(lambda: _alerts(duty), 15, "the alert")
    wait_until(lambda: feed.events, 15, "the feed event")
    pub.loop_stop()
    feed.stop()
    assert feed.error is None
    (alert,) = _alerts(duty)
    assert (alert["kind"], alert["count"], alert["status"]) == ("fire", 1, "open")
    assert [(e["change"], e["alert"]["id"]) for e in feed.events] == [("opened", alert["id"])]


def test_bad_payloads_are_refused_and_logged_while_ingest_goes_on(
    broker: MosquittoBroker, duty: DutyServer, caplog: pytest.LogCaptureFixture
) -> None:
    pub = _publisher(broker.port)
    topic = NodeTopics("node-1").topic(TopicKind.EVENT)
    good = event("ev-good", utcnow())
    with caplog.at_level(logging.WARNING, logger="station.duty"):
        for bad_topic, payload in [
            (topic, b"\xff\xfe not json"),
            (topic, b"{" + b" " * 70_000 + b"}"),
            (topic, good.to_payload().replace(b'"schema":1', b'"schema":9')),
            (topic, good.to_payload().replace(b'"score":0.8', b'"score":"high"')),
            (
                NodeTopics("node-x").topic(TopicKind.EVENT),
                event("ev-x", utcnow(), node="node-x").to_payload(),
            ),
            (topic, good.to_payload()),
        ]:
            pub.publish(bad_topic, payload, qos=1).wait_for_publish(5)
        wait_until(lambda: _alerts(duty), 15, "the good event's alert")
    pub.loop_stop()
    stats = services_of(duty.app).pipeline.stats
    assert (stats.persisted, stats.rejected) == (1, 5)
    for reason in (
        "not JSON",
        "exceeds",
        "unknown schema version 9",
        "score",
        "unknown node node-x",
    ):
        assert reason in caplog.text
    assert [a["kind"] for a in _alerts(duty)] == ["fall"]
