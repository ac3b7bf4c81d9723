"""StationAnalysis and EventRouter at unit level: scripted detections, a recording sender."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from edge.analysis import StationAnalysis
from edge.config import EdgeConfig
from edge.routing import EventRouter
from station.contracts import Event, EventKind, EventPhase, EventSeverity
from vision.detector import Detection
from vision.fire import SensorReading
from vision.pipeline import CameraFrame, ModelUse
from vision.roles import Role

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
# Over 5 % of the frame: a small flame with no smoke would be judged as a candle.
FIRE_BOX = (160.0, 80.0, 360.0, 240.0)


class ScriptedDetector:
    """The same detections for every frame."""

    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections

    @property
    def last_inference_ms(self) -> float:
        return 2.5

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        return [list(self.detections) for _ in frames]


def flickering(i: int) -> np.ndarray:
    frame = np.full((360, 640, 3), 90, dtype=np.uint8)
    rng = np.random.default_rng(i)
    # Tongues of flame 20 pixels across: flicker is compared at the region's own scale, where
    # pixel noise averages out and structure does not.
    blocks = rng.integers(60, 255, size=(8, 10, 3), dtype=np.uint8)
    frame[80:240, 160:360] = blocks.repeat(20, axis=0).repeat(20, axis=1)
    return frame


def config(analysis: dict[str, object] | None) -> EdgeConfig:
    raw: dict[str, object] = {
        "node_id": "node-a1",
        "camera": {"source": str(Path("clip.mp4"))},
        "detector": {"model": "m.pt"},
    }
    if analysis is not None:
        raw["analysis"] = analysis
    return EdgeConfig.model_validate(raw)


def run(
    cfg: EdgeConfig, detections: list[Detection], frames: int, smoke: bool
) -> list[tuple[str, Event]]:
    sent: list[tuple[str, Event]] = []
    router = EventRouter(
        "node-a1", lambda topic, e: sent.append((topic, e)), "uws/v1/node-a1/event"
    )
    analysis = StationAnalysis(
        {camera.id: cfg.analysis_for(camera) for camera in cfg.all_cameras},
        [ModelUse(ScriptedDetector(detections))],
        router.camera_event,
        lambda _id, _jpeg: None,
        sensors=lambda: SensorReading(smoke_alarm=smoke),
    )
    for i in range(frames):
        frame = CameraFrame("main", T0 + timedelta(seconds=i * 0.25), flickering(i))
        [result] = analysis.step([frame])
        assert result.inference_ms == 2.5
        assert result.camera_id == "main"
    analysis.close(T0 + timedelta(seconds=frames))
    return sent


def test_fire_with_a_smoke_alarm_goes_out_critical_and_ends_on_close() -> None:
    fire = [Detection(Role.FIRE, "fire", 0.9, FIRE_BOX)]
    sent = run(config({"hazards": ["fire"], "fire": {"window": 8}}), fire, 12, smoke=True)
    events = [e for _, e in sent]
    assert [(e.kind, e.phase) for e in events] == [
        (EventKind.FIRE, EventPhase.NEW),
        (EventKind.FIRE, EventPhase.END),
    ]
    assert events[0].severity is EventSeverity.CRITICAL
    assert [e.seq for e in events] == [0, 1]
    assert all(topic == "uws/v1/node-a1/event" for topic, _ in sent)
    # The opening message carries what the model saw, as fractions of the 640x360 frame.
    [box] = events[0].boxes
    assert (box.class_name, box.role, box.score) == ("fire", "fire", 0.9)
    assert (box.x1, box.y1, box.x2, box.y2) == (0.25, 80 / 360, 360 / 640, 240 / 360)
    assert events[1].boxes == []


def test_fire_without_sensors_agreeing_is_a_warning() -> None:
    fire = [Detection(Role.FIRE, "fire", 0.9, FIRE_BOX)]
    sent = run(config({"hazards": ["fire"], "fire": {"window": 8}}), fire, 12, smoke=False)
    assert sent[0][1].severity is EventSeverity.WARNING


def test_without_analysis_only_presence_events_at_info_severity() -> None:
    person = [Detection(Role.PERSON, "person", 0.8, (100, 50, 140, 300))]
    sent = run(config(None), person, 12, smoke=True)
    events = [e for _, e in sent]
    assert {e.kind for e in events} == {EventKind.PERSON}
    assert [e.phase for e in events] == [EventPhase.NEW, EventPhase.END]
    assert [e.seq for e in events] == [0, 1]
    assert all(e.severity is EventSeverity.INFO for e in events)
    assert all(e.camera_id == "main" and e.device_id is None for e in events)


def test_each_camera_has_its_own_settings() -> None:
    cfg = EdgeConfig.model_validate(
        {
            "node_id": "node-a1",
            "camera": {"id": "door", "source": "door.mp4", "analysis": {"hazards": ["person"]}},
            "cameras": [{"id": "room", "source": "room.mp4"}],
            "detector": {"model": "m.pt"},
            "analysis": {"hazards": ["fire"], "fire": {"window": 8}},
        }
    )
    sent: list[Event] = []
    router = EventRouter("node-a1", lambda _t, e: sent.append(e), "uws/v1/node-a1/event")
    fire_and_person = [
        Detection(Role.FIRE, "fire", 0.9, FIRE_BOX),
        Detection(Role.PERSON, "person", 0.8, (100, 50, 140, 300)),
    ]
    analysis = StationAnalysis(
        {camera.id: cfg.analysis_for(camera) for camera in cfg.all_cameras},
        [ModelUse(ScriptedDetector(fire_and_person))],
        router.camera_event,
        lambda _id, _jpeg: None,
    )
    for i in range(12):
        ts = T0 + timedelta(seconds=i * 0.25)
        analysis.step([CameraFrame(c, ts, flickering(i)) for c in ("door", "room")])
    seen = {(e.camera_id, e.kind) for e in sent}
    assert seen == {("door", EventKind.PERSON), ("room", EventKind.FIRE)}
