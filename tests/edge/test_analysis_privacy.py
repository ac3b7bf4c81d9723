"""An event whose snapshot the check after blurring refuses goes without it, and says why
(real YuNet on a real photo; scripted detections)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.analysis import WITHHELD_FACE, StationAnalysis
from edge.routing import EventRouter
from station.contracts import Event, EventPhase
from tests.edge.test_analysis import ScriptedDetector
from tests.vision.images import read_image
from vision.detector import Detection
from vision.pipeline import AnalysisSettings, CameraFrame, ModelUse
from vision.privacy import FaceBlurrer
from vision.roles import Role

pytestmark = pytest.mark.integration

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def _first_event(blurrer: FaceBlurrer, media_dir: Path) -> tuple[Event, list[bytes]]:
    events: list[Event] = []
    snapshots: list[bytes] = []
    router = EventRouter("node-a1", lambda _topic, e: events.append(e), "uws/v1/node-a1/event")
    person = Detection(Role.PERSON, "person", 0.9, (400, 80, 1100, 720))
    analysis = StationAnalysis(
        {"main": AnalysisSettings()},
        [ModelUse(ScriptedDetector([person]))],
        router.camera_event,
        lambda _id, jpeg: snapshots.append(jpeg),
        blurrer=blurrer,
    )
    image = read_image(media_dir / "people" / "zidane.jpg")
    for i in range(12):
        analysis.step([CameraFrame("main", T0 + timedelta(seconds=i * 0.25), image)])
        if events:
            break
    assert events, "no presence event"
    assert events[0].phase is EventPhase.NEW
    return events[0], snapshots


def test_the_event_goes_without_a_snapshot_that_still_shows_a_face(
    models_dir: Path, media_dir: Path
) -> None:
    yunet = models_dir / "face" / "face_detection_yunet_2023mar.onnx"
    careless = FaceBlurrer(yunet, score_threshold=0.9)
    withheld, none_sent = _first_event(careless, media_dir)
    assert (withheld.has_snapshot, withheld.snapshot_withheld) == (False, WITHHELD_FACE)
    assert none_sent == []

    sent_event, sent = _first_event(FaceBlurrer(yunet), media_dir)
    assert (sent_event.has_snapshot, sent_event.snapshot_withheld) == (True, "")
    assert len(sent) == 1
