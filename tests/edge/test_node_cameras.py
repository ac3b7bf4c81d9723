"""A node with two cameras: one model call per batch, events named by camera, health per camera."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from edge.config import load_config
from edge.errors import ConfigError
from edge.node import run_node
from station.contracts import Event, NodeHealth, NodeTopics, TopicKind, decode
from tests.edge.listener import Listener, Received
from tests.support.broker import MosquittoBroker
from tests.support.edge_node import write_edge_config

pytestmark = pytest.mark.integration

NODE = "node-two-cams"
TOPICS = NodeTopics(NODE)


def _cameras(media_dir: Path) -> dict[str, object]:
    second = {
        "id": "hall",
        "source": str(media_dir / "fall" / "fall.mp4"),
        "loop": True,
        "realtime": True,
        "max_fps": 2,
    }
    return {"cameras": [second]}


def _events(messages: list[Received]) -> list[Event]:
    return [decode(Event, m.payload) for m in messages if m.topic == TOPICS.topic(TopicKind.EVENT)]


def test_two_cameras_each_report_people_and_health(
    broker: MosquittoBroker, tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    path = write_edge_config(
        tmp_path, broker.port, models_dir, media_dir, NODE, **_cameras(media_dir)
    )
    config = load_config(path)
    listener = Listener(broker.port, f"uws/v1/{NODE}/#")
    stop = threading.Event()
    node = threading.Thread(target=run_node, args=(config, stop))
    node.start()

    def both_seen(messages: list[Received]) -> bool:
        cameras = {e.camera_id for e in _events(messages)}
        healths = [m for m in messages if m.topic == TOPICS.topic(TopicKind.HEALTH)]
        return cameras == {"main", "hall"} and len(healths) >= 2

    try:
        messages = listener.wait_for(both_seen, timeout_s=120)
    finally:
        stop.set()
        node.join(60)
    listener.close()
    assert not node.is_alive()
    health = decode(
        NodeHealth, [m for m in messages if m.topic == TOPICS.topic(TopicKind.HEALTH)][-1].payload
    )
    assert {c.camera_id for c in health.cameras} == {"main", "hall"}
    by_camera = {e.camera_id: e.event_id for e in _events(messages)}
    assert by_camera["main"] != by_camera["hall"]  # one event per camera, not shared


def test_duplicate_camera_ids_and_unknown_model_cameras_are_refused(
    tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    twin = {"id": "main", "source": "0"}
    path = write_edge_config(tmp_path, 1883, models_dir, media_dir, NODE, cameras=[twin])
    with pytest.raises(ConfigError, match="camera ids must be distinct"):
        load_config(path)
    fire = {"model": "fire.pt", "cameras": ["roof"]}
    path = write_edge_config(tmp_path, 1883, models_dir, media_dir, NODE, models=[fire])
    with pytest.raises(ConfigError, match="names unknown cameras"):
        load_config(path)
