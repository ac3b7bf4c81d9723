"""Liveness through the real app: missed heartbeats take a node offline via the scheduler."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from station.contracts import NodeTopics, TopicKind, utcnow
from tests.duty.messages import health
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until

pytestmark = pytest.mark.integration


def test_silent_node_goes_offline_and_comes_back(broker: MosquittoBroker, pg_url: str) -> None:
    duty = DutyServer(
        pg_url, broker.port, heartbeat_interval_s=0.5, missed_heartbeats=3, liveness_check_s=0.2
    ).start()
    try:
        duty.register("st-1", "node-1")
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="beats")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        topic = NodeTopics("node-1").topic(TopicKind.HEALTH)

        def offline_alerts() -> list[dict[str, object]]:
            with duty.client() as http:
                page = http.get("/api/v1/alerts", params={"kind": "station_offline"}).json()
                return list(page["items"])

        def node_state() -> str:
            with duty.client() as http:
                return str(http.get("/api/v1/nodes/node-1").json()["state"])

        pub.publish(topic, health(utcnow()).to_payload(), qos=1).wait_for_publish(5)
        wait_until(lambda: node_state() == "online", 10, "node online")
        wait_until(offline_alerts, 10, "the offline alert after missed heartbeats")
        assert node_state() == "offline"
        (alert,) = offline_alerts()
        assert (alert["zone"], alert["active"], alert["severity"]) == ("node-1", True, "major")

        pub.publish(topic, health(utcnow()).to_payload(), qos=1).wait_for_publish(5)
        wait_until(lambda: not offline_alerts()[0]["active"], 10, "the alert to clear")
        assert offline_alerts()[0]["status"] == "open"  # cleared, but still waiting for a person
        pub.loop_stop()
    finally:
        duty.stop()
