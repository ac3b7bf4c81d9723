"""Two cloud-duty replicas on one PostgreSQL split the load through the shared subscription."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from station.contracts import EventKind, NodeTopics, TopicKind, utcnow
from station.duty.fleet.ingest import Inbound
from station.duty.services import services_of
from tests.duty.messages import event
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until

pytestmark = pytest.mark.integration


def test_two_replicas_share_events_and_keep_one_alert_per_key(
    broker: MosquittoBroker, pg_url: str
) -> None:
    first = DutyServer(pg_url, broker.port, mqtt_client_id="duty-a", ingest_batch_wait_ms=0).start()
    second = DutyServer(
        pg_url, broker.port, mqtt_client_id="duty-b", ingest_batch_wait_ms=0
    ).start()
    try:
        first.register("st-1", "node-1")
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="replica-pub")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        topic = NodeTopics("node-1").topic(TopicKind.EVENT)
        total = 2000
        kinds = (EventKind.FALL, EventKind.SMOKE)
        for i in range(total):
            msg = event(f"ev-{i}", utcnow(), kind=kinds[i % 2], zone=f"z{i % 3}")
            pub.publish(topic, msg.to_payload(), qos=1)
        pub.loop_stop()

        def persisted() -> int:
            return sum(services_of(s.app).pipeline.stats.persisted for s in (first, second))

        wait_until(lambda: persisted() >= total, 60, "both replicas to persist everything")
        shares = [services_of(s.app).pipeline.stats.persisted for s in (first, second)]
        assert min(shares) > 0, f"one replica got nothing: {shares}"
        with first.client() as http:
            alerts = http.get("/api/v1/alerts", params={"limit": 100}).json()["items"]
            events = http.get("/api/v1/events", params={"limit": 1}).json()["total"]
        assert events == total
        # Four keys (a fall per zone, smoke for the whole station): every event counted once.
        assert sorted((a["kind"], a["zone"]) for a in alerts) == [
            ("fall", "z0"),
            ("fall", "z1"),
            ("fall", "z2"),
            ("smoke", ""),
        ]
        assert sum(a["count"] for a in alerts) == total
    finally:
        first.stop()
        second.stop()


def test_a_snapshot_stored_by_one_replica_is_served_by_the_other(
    broker: MosquittoBroker, pg_url: str
) -> None:
    first = DutyServer(pg_url, broker.port, mqtt_client_id="duty-s1").start()
    second = DutyServer(pg_url, broker.port, mqtt_client_id="duty-s2").start()
    try:
        first.register("st-s", "node-s")
        jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 64
        services_of(first.app).pipeline.process(
            [
                Inbound(
                    NodeTopics("node-s").topic(TopicKind.EVENT),
                    event("ev-snap", utcnow(), node="node-s").to_payload(),
                ),
                Inbound(NodeTopics("node-s").snapshot("ev-snap"), jpeg),
            ]
        )
        with second.client() as http:
            response = http.get("/api/v1/events/ev-snap/snapshot")
        assert response.status_code == 200
        assert response.content == jpeg
        assert response.headers["content-type"] == "image/jpeg"
    finally:
        first.stop()
        second.stop()
