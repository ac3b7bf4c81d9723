"""A whole node on a real clip with the real model against a real broker."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from edge.config import EdgeConfig, load_config
from edge.node import run_node
from station.contracts import (
    Event,
    EventKind,
    EventPhase,
    NodeHealth,
    NodeState,
    NodeStatus,
    NodeTopics,
    TopicKind,
    decode,
)
from tests.edge.listener import Listener, Received
from tests.support.broker import MosquittoBroker
from tests.support.edge_node import write_edge_config

pytestmark = pytest.mark.integration

NODE = "node-e2e-1"
TOPICS = NodeTopics(NODE)
REPO = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, port: int, models_dir: Path, media_dir: Path) -> Path:
    return write_edge_config(tmp_path, port, models_dir, media_dir, NODE)


def of_kind(messages: list[Received], kind: TopicKind) -> list[Received]:
    return [m for m in messages if m.topic == TOPICS.topic(kind)]


def has_all(messages: list[Received]) -> bool:
    events = [decode(Event, m.payload) for m in of_kind(messages, TopicKind.EVENT)]
    healths = of_kind(messages, TopicKind.HEALTH)
    births = of_kind(messages, TopicKind.STATUS)
    phases = {e.phase for e in events}
    return {EventPhase.NEW, EventPhase.UPDATE} <= phases and len(healths) >= 2 and bool(births)


def test_run_node_reports_people_health_and_status(
    broker: MosquittoBroker, tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    config: EdgeConfig = load_config(write_config(tmp_path, broker.port, models_dir, media_dir))
    listener = Listener(broker.port, f"uws/v1/{NODE}/#")
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_node(config, stop)
        except BaseException as err:
            errors.append(err)

    node = threading.Thread(target=run)
    node.start()
    try:
        messages = listener.wait_for(has_all, timeout_s=90)
    finally:
        stop.set()
        node.join(30)
    assert not node.is_alive()
    assert errors == []

    [birth, *_] = [decode(NodeStatus, m.payload) for m in of_kind(messages, TopicKind.STATUS)]
    assert (birth.state, birth.reason) == (NodeState.ONLINE, "birth")
    new = next(
        e
        for e in (decode(Event, m.payload) for m in of_kind(messages, TopicKind.EVENT))
        if e.phase is EventPhase.NEW
    )
    assert (new.kind, new.seq, new.camera_id, new.zone) == (EventKind.PERSON, 0, "main", "street")
    assert new.count >= 3
    assert 0.4 <= new.score <= 1.0
    update = next(
        e
        for e in (decode(Event, m.payload) for m in of_kind(messages, TopicKind.EVENT))
        if e.phase is EventPhase.UPDATE
    )
    assert (update.event_id, update.seq, update.started_at) == (new.event_id, 1, new.started_at)
    health = decode(NodeHealth, of_kind(messages, TopicKind.HEALTH)[-1].payload)
    assert health.memory_mb > 0
    assert health.uptime_s > 0
    [camera] = health.cameras
    assert camera.camera_id == "main"
    assert camera.connected
    listener.wait_for(
        lambda ms: any(
            decode(NodeStatus, m.payload).reason == "shutdown"
            for m in of_kind(ms, TopicKind.STATUS)
        )
    )
    listener.close()
    assert (tmp_path / "var" / "outbox.sqlite").is_file()


def test_node_process_stops_cleanly_on_sigterm(
    broker: MosquittoBroker, tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    config_path = write_config(tmp_path, broker.port, models_dir, media_dir)
    listener = Listener(broker.port, TOPICS.topic(TopicKind.STATUS))
    node = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "edge", "--config", str(config_path)], cwd=REPO
    )
    try:
        listener.wait_for(lambda ms: len(ms) >= 1, timeout_s=60)
        node.send_signal(signal.SIGTERM)
        assert node.wait(30) == 0
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
    statuses = [decode(NodeStatus, m.payload) for m in listener.messages]
    assert [(s.state, s.reason) for s in statuses] == [
        (NodeState.ONLINE, "birth"),
        (NodeState.OFFLINE, "shutdown"),
    ]
    listener.close()
