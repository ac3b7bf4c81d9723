"""Pipeline with scripted detectors: one model call per batch, models on their own cameras."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from vision.detector import Detection
from vision.events import Hazard, Phase
from vision.fall import FallSettings
from vision.pipeline import AnalysisSettings, CameraFrame, ModelUse, Pipeline
from vision.roles import Role

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
FRAME = np.zeros((360, 640, 3), dtype=np.uint8)


class ScriptedDetector:
    """Returns the same detections for every frame and records each call's batch size."""

    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections
        self.calls: list[int] = []

    @property
    def last_inference_ms(self) -> float:
        return 1.0

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        self.calls.append(len(frames))
        return [list(self.detections) for _ in frames]


def frames(cameras: list[str], i: int) -> list[CameraFrame]:
    return [CameraFrame(c, T0 + timedelta(seconds=i * 0.5), FRAME) for c in cameras]


def test_each_model_is_called_once_per_batch_on_its_cameras() -> None:
    people = ScriptedDetector([Detection(Role.PERSON, "person", 0.9, (10, 10, 50, 120))])
    fire = ScriptedDetector([])
    cams = ["a", "b", "c", "d"]
    pipeline = Pipeline(
        [ModelUse(people), ModelUse(fire, frozenset({"c", "d"}))],
        {c: AnalysisSettings() for c in cams},
    )
    for i in range(3):
        results = pipeline.analyse(frames(cams, i))
    assert people.calls == [4, 4, 4]
    assert fire.calls == [2, 2, 2]
    # Two model calls of 1 ms each, shared by the four frames of the batch.
    assert [r.inference_ms for r in results] == [0.5] * 4
    assert [r.camera_id for r in results] == cams
    # Tracking gave the person an id on every camera, and the room counts them.
    assert all(r.detections[0].track_id is not None for r in results)
    assert all(r.occupancy == 1 for r in results)


def test_events_carry_their_camera_and_only_watched_hazards() -> None:
    lying = ScriptedDetector([Detection(Role.FALLEN, "Fall", 0.8, (100, 200, 300, 260))])
    # Never seen upright and lying still: the 'person down' path, shortened for the test.
    fast = FallSettings(person_down_s=1.0)
    pipeline = Pipeline(
        [ModelUse(lying)],
        {
            "hall": AnalysisSettings(fall=fast),
            "store": AnalysisSettings(fall=fast, hazards=frozenset({Hazard.FIRE})),
        },
    )
    found = []
    for i in range(6):
        found += [
            (r.camera_id, e)
            for r in pipeline.analyse(frames(["hall", "store"], i))
            for e in r.events
        ]
    assert [(cam, e.kind, e.phase, e.seq) for cam, e in found] == [
        ("hall", Hazard.FALL, Phase.NEW, 0)
    ]
    closed = pipeline.close(T0 + timedelta(seconds=10))
    assert {cam: [(e.phase, e.seq) for e in events] for cam, events in closed.items()} == {
        "hall": [(Phase.END, 1)],
        "store": [],
    }


def test_unknown_camera_is_refused_before_any_model_call() -> None:
    model = ScriptedDetector([])
    pipeline = Pipeline([ModelUse(model)], {"a": AnalysisSettings()})
    with pytest.raises(KeyError, match="ghost"):
        pipeline.analyse(frames(["a", "ghost"], 0))
    assert model.calls == []


def test_a_pipeline_needs_a_model() -> None:
    with pytest.raises(ValueError, match="at least one model"):
        Pipeline([], {"a": AnalysisSettings()})


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        AnalysisSettings.model_validate({"fall": {"confirm": 3}})
    with pytest.raises(ValueError, match="less than or equal to 1"):
        AnalysisSettings.model_validate({"polygon": [[0, 0], [2, 0], [1, 1]]})
