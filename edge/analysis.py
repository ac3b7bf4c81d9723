"""The node's frame analysis: vision's per-camera results -> contract Events and snapshots.

`to_contract_event` is the one place a vision `HazardEvent` becomes a wire `Event`; camera
hazards and the device rules' events both go through it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

import cv2
import numpy as np

from edge.config import EdgeConfig, PrivacyConfig
from station.contracts import (
    MAX_EVENT_BOXES,
    MAX_SNAPSHOT_BYTES,
    Event,
    EventKind,
    EventPhase,
    EventSeverity,
    SeenBox,
)
from vision.detector import Detection, Detector
from vision.errors import FaceRemainsError
from vision.events import Hazard, HazardEvent, Phase
from vision.fire import SensorReading
from vision.pipeline import AnalysisSettings, CameraFrame, CameraResult, ModelUse, Pipeline
from vision.privacy import FaceBlurrer
from vision.weights import load_detector

log = logging.getLogger(__name__)

# Why an event goes without its snapshot; duty staff read these (zh-CN).
WITHHELD_FACE = "快照未发送：打码后复检仍发现人脸"
WITHHELD_ERROR = "快照未发送：打码或编码失败"
WITHHELD_SIZE = "快照未发送：图片过大"


def to_contract_event(
    node_id: str,
    found: HazardEvent,
    *,
    camera_id: str | None = None,
    device_id: str | None = None,
    has_snapshot: bool = False,
    snapshot_withheld: str = "",
    boxes: Iterable[SeenBox] = (),
) -> Event:
    """Translate one vision/rules event into the wire Event (its source: a camera or a device)."""
    return Event(
        event_id=found.event_id,
        node_id=node_id,
        camera_id=camera_id,
        device_id=device_id,
        kind=EventKind(found.kind.value),
        phase=EventPhase(found.phase.value),
        seq=found.seq,
        ts=found.at,
        started_at=found.started_at,
        score=found.score,
        zone=found.zone,
        count=found.count,
        has_snapshot=has_snapshot,
        snapshot_withheld=snapshot_withheld,
        severity=EventSeverity(found.severity.value),
        evidence=found.evidence,
        boxes=list(boxes),
    )


def seen_boxes(detections: Sequence[Detection], width: int, height: int) -> list[SeenBox]:
    """The frame's detections as wire boxes (fractions of the frame), the surest first."""
    boxes: list[SeenBox] = []
    for found in sorted(detections, key=lambda d: d.score, reverse=True):
        x1, y1, x2, y2 = found.box
        left, right = max(x1 / width, 0.0), min(x2 / width, 1.0)
        top, bottom = max(y1 / height, 0.0), min(y2 / height, 1.0)
        if right <= left or bottom <= top:
            continue
        boxes.append(
            SeenBox(
                class_name=found.class_name[:64],
                role=found.role.value,
                score=min(max(found.score, 0.0), 1.0),
                x1=left,
                y1=top,
                x2=right,
                y2=bottom,
            )
        )
    return boxes[:MAX_EVENT_BOXES]


class HazardSink(Protocol):
    """Where a camera's events go: the node's event router, a list in tests."""

    def __call__(
        self,
        camera_id: str,
        event: HazardEvent,
        *,
        has_snapshot: bool,
        snapshot_withheld: str = "",
        boxes: Sequence[SeenBox] = (),
    ) -> object:
        """Take one event of one camera, with what the models saw when it opened (and why its
        snapshot was withheld, if it was)."""
        ...


def load_extra_models(config: EdgeConfig) -> list[Detector]:
    """Load the configured extra models (a fire model, ...); raises ModelLoadError."""
    return [load_detector(spec) for spec in config.models]


def build_blurrer(config: PrivacyConfig | None) -> FaceBlurrer | None:
    """Load the face model when snapshots are configured (raises PrivacyError)."""
    if config is None or not config.snapshots:
        return None
    return FaceBlurrer(config.face_model, config.face_score, config.check_score)


class StationAnalysis:
    """All cameras of a node: one pipeline, each camera with its own settings; events to a sink,
    a blurred snapshot after each NEW."""

    def __init__(
        self,
        cameras: Mapping[str, AnalysisSettings],
        models: Sequence[ModelUse],
        sink: HazardSink,
        send_snapshot: Callable[[str, bytes], object],
        *,
        blurrer: FaceBlurrer | None = None,
        jpeg_quality: int = 80,
        sensors: Callable[[], SensorReading | None] | None = None,
        looked: Callable[[str, datetime], object] | None = None,
    ) -> None:
        """`sensors` returns the room's smoke and temperature, raising fire severity; `looked`
        hears once per camera when it has watched long enough to have seen a fire."""
        self._pipeline = Pipeline(models, cameras)
        self._sink = sink
        self._send_snapshot = send_snapshot
        self._blurrer = blurrer
        self._quality = jpeg_quality
        self._sensors = sensors
        self._looked = looked
        self._told: set[str] = set()

    def step(self, frames: Sequence[CameraFrame]) -> list[CameraResult]:
        """Analyse the newest frame of some cameras together; hand on what they cause."""
        reading = self._sensors() if self._sensors is not None else None
        readings = None if reading is None else {f.camera_id: reading for f in frames}
        results = self._pipeline.analyse(frames, readings)
        for frame, result in zip(frames, results, strict=True):
            for event in result.events:
                self._publish(frame, event, result.detections)
            self._tell_looked(frame)
        return results

    def _tell_looked(self, frame: CameraFrame) -> None:
        if self._looked is None or frame.camera_id in self._told:
            return
        camera = self._pipeline.cameras[frame.camera_id]
        # A camera that does not watch for fire has nothing to look again for.
        watches = bool(camera.settings.hazards & {Hazard.FIRE, Hazard.SMOKE})
        if not watches or camera.fire.looked:
            self._told.add(frame.camera_id)
            self._looked(frame.camera_id, frame.ts)

    def close(self, now: datetime) -> None:
        """End every open event (the node is stopping)."""
        for camera_id, events in self._pipeline.close(now).items():
            for event in events:
                self._sink(camera_id, event, has_snapshot=False)

    def _publish(self, frame: CameraFrame, event: HazardEvent, people: list[Detection]) -> None:
        snapshot, withheld = None, ""
        boxes: list[SeenBox] = []
        if event.phase is Phase.NEW:
            # The boxes label the snapshot when staff judge the alert: training data later.
            height, width = frame.image.shape[:2]
            boxes = seen_boxes(people, width, height)
            if self._blurrer is not None:
                snapshot, withheld = self._snapshot(frame.camera_id, frame.image, people)
        self._sink(
            frame.camera_id,
            event,
            has_snapshot=snapshot is not None,
            snapshot_withheld=withheld,
            boxes=boxes,
        )
        if snapshot is not None:
            # After the event: a station shows the alert at once, the picture when it lands.
            self._send_snapshot(event.event_id, snapshot)

    def _snapshot(
        self, camera_id: str, image: np.ndarray, people: list[Detection]
    ) -> tuple[bytes | None, str]:
        """The blurred JPEG, or None and why it stays here (the reason, for duty staff)."""
        assert self._blurrer is not None
        try:
            data = self._blurrer.snapshot(image, people, self._quality)
            if len(data) > MAX_SNAPSHOT_BYTES:
                half = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2))
                scaled = [_halve(d) for d in people]
                data = self._blurrer.snapshot(half, scaled, 60)
        except FaceRemainsError as err:
            log.warning("camera %s: snapshot withheld: %s", camera_id, err)
            return None, WITHHELD_FACE
        except (cv2.error, RuntimeError) as err:
            log.warning("camera %s: no snapshot: %s", camera_id, err)
            return None, WITHHELD_ERROR
        if len(data) > MAX_SNAPSHOT_BYTES:
            return None, WITHHELD_SIZE
        return data, ""


def _halve(detection: Detection) -> Detection:
    x1, y1, x2, y2 = detection.box
    return Detection(
        detection.role,
        detection.class_name,
        detection.score,
        (x1 / 2, y1 / 2, x2 / 2, y2 / 2),
        detection.track_id,
    )
