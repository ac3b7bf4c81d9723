"""FrameAnalysis and EventPublisher at unit level: scripted detections, a recording sender."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from edge.analysis import FrameAnalysis
from edge.config import EdgeConfig
from edge.node import EventPublisher, build_presence
from station.contracts import Event, EventKind, EventPhase, EventSeverity
from vision.detector import Detection
from vision.fire import SensorReading
from vision.roles import Role

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
FIRE_BOX = (200.0, 100.0, 300.0, 200.0)


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
    frame[100:200, 200:300] = rng.integers(60, 255, size=(100, 100, 3), dtype=np.uint8)
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
    publisher = EventPublisher("node-a1", "main", lambda topic, e: sent.append((topic, e)))
    analysis = FrameAnalysis(
        cfg,
        "main",
        [ScriptedDetector(detections)],
        build_presence(cfg.presence),
        publisher,
        lambda _id, _jpeg: None,
        sensors=lambda: SensorReading(smoke_alarm=smoke),
    )
    for i in range(frames):
        step = analysis.step(T0 + timedelta(seconds=i * 0.25), flickering(i))
        assert step.inference_ms == 2.5
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


def test_fire_without_sensors_agreeing_is_a_warning() -> None:
    fire = [Detection(Role.FIRE, "fire", 0.9, FIRE_BOX)]
    sent = run(config({"hazards": ["fire"], "fire": {"window": 8}}), fire, 12, smoke=False)
    assert sent[0][1].severity is EventSeverity.WARNING


def test_without_analysis_only_presence_events_and_no_severity() -> None:
    person = [Detection(Role.PERSON, "person", 0.8, (100, 50, 140, 300))]
    sent = run(config(None), person, 12, smoke=True)
    events = [e for _, e in sent]
    assert {e.kind for e in events} == {EventKind.PERSON}
    assert [e.phase for e in events] == [EventPhase.NEW, EventPhase.END]
    assert all(e.severity is None for e in events)
