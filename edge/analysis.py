"""The node's frame analysis: models -> presence and fall/fire/crowd -> events and snapshots."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import cv2
import numpy as np

from edge.config import EdgeConfig, PrivacyConfig
from station.contracts import MAX_SNAPSHOT_BYTES, Event
from vision.detector import Detection, Detector
from vision.events import HazardEvent
from vision.fire import SensorReading
from vision.pipeline import CameraFrame, ModelUse, Pipeline
from vision.presence import Phase, PresenceEvent, PresenceMonitor
from vision.privacy import FaceBlurrer
from vision.weights import load_detector

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where events go: the node's EventPublisher."""

    def publish(self, found: PresenceEvent | HazardEvent, *, has_snapshot: bool = False) -> Event:
        """Send one event message."""
        ...


@dataclass(frozen=True)
class AnalysedFrame:
    """What one frame gave: its detections and the model time spent on it."""

    detections: list[Detection]
    inference_ms: float


def load_extra_models(config: EdgeConfig) -> list[Detector]:
    """Load the configured extra models (a fire model, ...); raises ModelLoadError."""
    return [load_detector(spec) for spec in config.models]


def build_blurrer(config: PrivacyConfig | None) -> FaceBlurrer | None:
    """Load the face model when snapshots are configured (raises PrivacyError)."""
    if config is None or not config.snapshots:
        return None
    return FaceBlurrer(config.face_model, config.face_score)


class FrameAnalysis:
    """One camera's analysis: every frame through the models once, then all temporal logic."""

    def __init__(
        self,
        config: EdgeConfig,
        camera_id: str,
        models: Sequence[Detector],
        presence: PresenceMonitor,
        sink: EventSink,
        send_snapshot: Callable[[str, bytes], object],
        blurrer: FaceBlurrer | None = None,
        sensors: Callable[[], SensorReading | None] | None = None,
    ) -> None:
        """Analyse `camera_id` with `models` (the first is the configured detector).

        `sensors` returns the room's smoke and temperature readings, which raise the severity
        of fire and smoke events.
        """
        self.camera_id = camera_id
        self._models = list(models)
        self._presence = presence
        self._sink = sink
        self._send_snapshot = send_snapshot
        self._blurrer = blurrer
        self._sensors = sensors
        self._quality = config.privacy.jpeg_quality if config.privacy else 80
        self._pipeline: Pipeline | None = None
        if config.analysis is not None:
            uses = [ModelUse(model) for model in self._models]
            self._pipeline = Pipeline(uses, {camera_id: config.analysis})

    def step(self, ts: datetime, image: np.ndarray) -> AnalysedFrame:
        """Analyse one frame taken at `ts`; publish what it causes."""
        h, w = image.shape[:2]
        hazards: list[HazardEvent] = []
        if self._pipeline is not None:
            reading = self._sensors() if self._sensors is not None else None
            readings = {self.camera_id: reading} if reading is not None else None
            found = self._pipeline.analyse([CameraFrame(self.camera_id, ts, image)], readings)
            hazards = [event for _, event in found]
            detections = self._pipeline.last_detections[self.camera_id]
            spent = self._pipeline.last_inference_ms
        else:
            detections, spent = [], 0.0
            for model in self._models:
                detections += model.detect([image])[0]
                spent += model.last_inference_ms
        for event in self._presence.update(ts, detections, w, h):
            self._sink.publish(event)
        for hazard in hazards:
            self._publish(hazard, image, detections)
        return AnalysedFrame(detections, spent)

    def close(self, now: datetime) -> None:
        """End every open event (the node is stopping)."""
        for event in self._presence.close(now):
            self._sink.publish(event)
        if self._pipeline is not None:
            for _, hazard in self._pipeline.close(now):
                self._sink.publish(hazard)

    def _publish(self, hazard: HazardEvent, image: np.ndarray, people: list[Detection]) -> None:
        snapshot = None
        if hazard.phase is Phase.NEW and self._blurrer is not None:
            snapshot = self._snapshot(image, people)
        self._sink.publish(hazard, has_snapshot=snapshot is not None)
        if snapshot is not None:
            # After the event: a station shows the alert at once, the picture when it lands.
            self._send_snapshot(hazard.event_id, snapshot)

    def _snapshot(self, image: np.ndarray, people: list[Detection]) -> bytes | None:
        assert self._blurrer is not None
        try:
            data = self._blurrer.snapshot(image, people, self._quality)
            if len(data) > MAX_SNAPSHOT_BYTES:
                half = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2))
                scaled = [_halve(d) for d in people]
                data = self._blurrer.snapshot(half, scaled, 60)
        except (cv2.error, RuntimeError) as err:
            log.warning("camera %s: no snapshot: %s", self.camera_id, err)
            return None
        return data if len(data) <= MAX_SNAPSHOT_BYTES else None


def _halve(detection: Detection) -> Detection:
    x1, y1, x2, y2 = detection.box
    return Detection(
        detection.role,
        detection.class_name,
        detection.score,
        (x1 / 2, y1 / 2, x2 / 2, y2 / 2),
        detection.track_id,
    )
