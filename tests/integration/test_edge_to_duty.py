"""A real edge node (real model, real clip) -> real Mosquitto -> cloud-duty on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.config import CloudConfig
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.contracts import Event, NodeTopics, TopicKind, decode, utcnow
from tests.duty.messages import event
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, FeedReader, wait_until
from tests.support.edge_node import EdgeProcess, write_edge_config

pytestmark = pytest.mark.integration

NODE = "node-e2e"


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str) -> Iterator[DutyServer]:
    """cloud-duty on PostgreSQL with station st-e2e and its node registered."""
    server = DutyServer(pg_url, broker.port).start()
    server.register("st-e2e", NODE)
    yield server
    server.stop()


def _get(duty: DutyServer, path: str, **params: Any) -> list[dict[str, Any]]:
    with duty.client() as http:
        response = http.get(path, params=params)
        response.raise_for_status()
        return list(response.json()["items"])


def test_a_person_seen_by_a_real_node_is_occupancy_and_pages_nobody(
    duty: DutyServer, broker: MosquittoBroker, tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    feed = FeedReader(duty.url).start()
    config = write_edge_config(tmp_path, broker.port, models_dir, media_dir, NODE)
    node = EdgeProcess(config, tmp_path / "edge.log").start()
    try:
        # Wait for the event's updates too: they fold into the one event record.
        wait_until(
            lambda: any(e["id"] for e in _get(duty, "/api/v1/events", node_id=NODE)),
            90,
            f"the node's first event; node log:\n{node.log()}",
        )
        first = _get(duty, "/api/v1/events", node_id=NODE)[0]
        wait_until(lambda: " seq=2 " in node.log(), 60, "two updates from the node")
        wait_until(lambda: _occupancy(duty) is not None, 30, "occupancy in a heartbeat")
        assert node.stop() == 0
    finally:
        node.kill()
    wait_until(lambda: _get(duty, "/api/v1/events", node_id=NODE)[0]["ended_at"], 20, "the end")
    feed.stop()
    assert feed.error is None

    assert _get(duty, "/api/v1/alerts", kind="person") == []
    (stored,) = _get(duty, "/api/v1/events", node_id=NODE)
    assert (stored["id"], stored["kind"], stored["alert_id"]) == (first["id"], "person", None)
    assert stored["last_seq"] >= 2  # its updates folded into the one record
    # The node's own offline alert is the only one: presence reached no feed, no page.
    assert {e["alert"]["kind"] for e in feed.events} <= {"station_offline"}
    (node_row,) = _get(duty, "/api/v1/nodes", station_id="st-e2e")
    assert node_row["health"]["cameras"][0]["camera_id"] == "main"
    # A node that stops leaves its station unwatched: that is an alert of its own.
    (offline,) = _get(duty, "/api/v1/alerts", kind="station_offline")
    assert offline["zone"] == NODE


def _occupancy(duty: DutyServer) -> int | None:
    """What the node's camera counts now, from its last heartbeat."""
    nodes = _get(duty, "/api/v1/nodes", station_id="st-e2e")
    health = nodes[0].get("health") if nodes else None
    cameras = health["cameras"] if health else []
    value = cameras[0].get("occupancy") if cameras else None
    return int(value) if value is not None else None


def test_broker_down_for_10_s_mid_stream_loses_no_event(
    duty: DutyServer, broker: MosquittoBroker, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    uplink = Uplink(NODE, CloudConfig(port=broker.port, keepalive_s=5), outbox)
    uplink.start()
    try:
        assert uplink.wait_connected(10)
        topic = NodeTopics(NODE).topic(TopicKind.EVENT)
        total = 120
        outage = threading.Thread(target=broker.restart, kwargs={"down_s": 10})
        for i in range(total):
            if i == 40:
                outage.start()
            uplink.send(topic, event(f"ev-{i:03d}", utcnow(), node=NODE, zone=f"z{i % 4}"))
            threading.Event().wait(0.1)
        outage.join()
        wait_until(lambda: outbox.depth() == 0, 90, "the outbox to drain after the outage")
        wait_until(
            lambda: (
                _get(duty, "/api/v1/events", node_id=NODE, limit=1) and _total(duty, NODE) == total
            ),
            90,
            "every event in cloud-duty",
        )
    finally:
        uplink.stop()
        outbox.close()
    stored = sorted(e["id"] for e in _get(duty, "/api/v1/events", node_id=NODE, limit=500))
    assert stored == [f"ev-{i:03d}" for i in range(total)]
    alerts = _get(duty, "/api/v1/alerts", kind="fall")
    assert sorted((a["zone"], a["count"]) for a in alerts) == [(f"z{z}", 30) for z in range(4)]


def test_node_killed_and_restarted_resends_without_duplicates(
    duty: DutyServer, broker: MosquittoBroker, tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    config = write_edge_config(tmp_path, broker.port, models_dir, media_dir, NODE)
    outbox_path = tmp_path / "var" / "outbox.sqlite"
    node = EdgeProcess(config, tmp_path / "edge.log").start()
    try:
        wait_until(lambda: _get(duty, "/api/v1/events", node_id=NODE), 90, "the first event")
        broker.stop()
        # With the cloud link down, what the node sees piles up in its outbox.
        wait_until(lambda: _queued_events(outbox_path), 60, "events queued in the outbox")
        node.kill()
        queued = _queued_events(outbox_path)
        broker.start()
        node = EdgeProcess(config, tmp_path / "edge2.log").start()
        wait_until(lambda: Outbox(outbox_path).depth() == 0, 60, "the restarted node to re-send")
    finally:
        node.kill()
    stored = {e["id"]: e for e in _get(duty, "/api/v1/events", node_id=NODE, limit=500)}
    for sent in queued:
        assert stored[sent.event_id]["last_seq"] >= sent.seq
    # Presence is occupancy: re-sent or not, it raised no alert.
    assert _get(duty, "/api/v1/alerts", kind="person") == []
    assert {e["alert_id"] for e in stored.values()} == {None}


def _total(duty: DutyServer, node_id: str) -> int:
    with duty.client() as http:
        page = http.get("/api/v1/events", params={"node_id": node_id, "limit": 1}).json()
        return int(page["total"])


def _queued_events(path: Path) -> list[Event]:
    if not path.exists():
        return []
    outbox = Outbox(path)
    try:
        rows = outbox.pending(limit=1000)
    finally:
        outbox.close()
    return [decode(Event, r.payload) for r in rows if r.topic.endswith("/event")]
