"""An event whose snapshot the check after blurring refuses goes without it, and says why
(real YuNet on a real photo; scripted detections)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.analysis import WITHHELD_FACE, StationAnalysis
from edge.routing import EventRouter
from station.contracts import Event, EventKind, EventPhase
from tests.edge.test_analysis import FIRE_BOX, ScriptedDetector, flickering
from tests.vision.images import read_image
from vision.detector import Detection
from vision.events import Hazard
from vision.fire import SensorReading
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


def test_a_fire_snapshot_leaves_with_every_face_blurred(models_dir: Path, media_dir: Path) -> None:
    blurrer = FaceBlurrer(models_dir / "face" / "face_detection_yunet_2023mar.onnx")
    events: list[Event] = []
    snapshots: list[bytes] = []
    router = EventRouter("node-a1", lambda _topic, e: events.append(e), "uws/v1/node-a1/event")
    # Only the fire model looks at this camera: no person box, so the face model alone blurs.
    analysis = StationAnalysis(
        {"kitchen": AnalysisSettings(hazards=frozenset({Hazard.FIRE}))},
        [ModelUse(ScriptedDetector([Detection(Role.FIRE, "fire", 0.9, FIRE_BOX)]))],
        router.camera_event,
        lambda _id, jpeg: snapshots.append(jpeg),
        blurrer=blurrer,
        sensors=lambda: SensorReading(smoke_alarm=True),  # the smoke alarm confirms a small flame
    )
    photo = read_image(media_dir / "people" / "zidane.jpg")
    assert len(blurrer.faces(photo)) == 3  # three faces, none where the flames are
    for i in range(24):
        frame = photo.copy()
        frame[80:240, 160:360] = flickering(i)[80:240, 160:360]
        analysis.step([CameraFrame("kitchen", T0 + timedelta(seconds=i * 0.25), frame)])
        if events:
            break
    [fire] = events
    assert (fire.kind, fire.phase, fire.has_snapshot) == (EventKind.FIRE, EventPhase.NEW, True)
    [jpeg] = snapshots
    sent = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert sent is not None
    assert blurrer.faces(sent) == []
