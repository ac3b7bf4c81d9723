"""Receipts close the gap PUBACK leaves: a broker restart with cloud-duty away loses nothing.

Mosquitto does not persist shared subscriptions, so messages a node publishes after a broker
restart, before cloud-duty subscribes again, are PUBACKed and dropped. The node keeps each row
until cloud-duty's Receipt and sends it again; ingest stores each event exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.config import CloudConfig
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.contracts import NodeTopics, TopicKind, utcnow
from tests.duty.messages import event
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until

pytestmark = pytest.mark.integration

NODE = "node-rcpt"


def _events(duty: DutyServer) -> list[dict[str, Any]]:
    with duty.client() as http:
        response = http.get("/api/v1/events", params={"node_id": NODE, "limit": 500})
        response.raise_for_status()
        return list(response.json()["items"])


@pytest.fixture
def uplink(broker: MosquittoBroker, tmp_path: Path) -> Iterator[Uplink]:
    cloud = CloudConfig(
        port=broker.port,
        keepalive_s=5,
        resume_delay_s=0,  # no wait to hide the gap: the receipts must close it
        receipt_timeout_s=1.0,
        receipt_backoff_max_s=2.0,
    )
    link = Uplink(NODE, cloud, Outbox(tmp_path / "outbox.sqlite"))
    link.start()
    assert link.wait_connected(10)
    yield link
    link.stop()
    link.outbox.close()


def test_broker_restart_with_duty_away_loses_and_duplicates_nothing(
    broker: MosquittoBroker, pg_url: str, uplink: Uplink
) -> None:
    topic = NodeTopics(NODE).topic(TopicKind.EVENT)
    first = DutyServer(pg_url, broker.port, mqtt_client_id="duty-r").start()
    first.register("st-r", NODE)
    uplink.send(topic, event("ev-000", utcnow(), node=NODE))
    wait_until(lambda: uplink.outbox.depth() == 0, 30, "the first receipt")
    first.stop()

    broker.restart()
    assert uplink.wait_connected(30)
    total = 30
    for i in range(1, total):
        uplink.send(topic, event(f"ev-{i:03d}", utcnow(), node=NODE, zone=f"z{i % 3}"))
    # The broker took every one (PUBACK) with nobody subscribed: only receipts keep them.
    wait_until(lambda: uplink.unreceipted() >= total - 1, 30, "PUBACKs from the broker")
    assert uplink.outbox.depth() == total - 1

    second = DutyServer(pg_url, broker.port, mqtt_client_id="duty-r").start()
    try:
        wait_until(lambda: uplink.outbox.depth() == 0, 60, "re-sends receipted")
        stored = sorted(e["id"] for e in _events(second))
    finally:
        second.stop()
    assert stored == [f"ev-{i:03d}" for i in range(total)]
    assert uplink.unreceipted() == 0
