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
from vision.pipeline import CameraFrame, ModelUse, Pipeline, detect_batch
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


@dataclass(frozen=True)
class CameraFeed:
    """One camera's share of the analysis: its presence logic and where its events go."""

    camera_id: str
    presence: PresenceMonitor
    sink: EventSink


class StationAnalysis:
    """All cameras of a node: each model called once per batch on the cameras it serves,
    then each camera's presence and fall/fire/crowd logic."""

    def __init__(
        self,
        config: EdgeConfig,
        feeds: Sequence[CameraFeed],
        models: Sequence[ModelUse],
        send_snapshot: Callable[[str, bytes], object],
        blurrer: FaceBlurrer | None = None,
        sensors: Callable[[], SensorReading | None] | None = None,
    ) -> None:
        """`sensors` returns the room's smoke and temperature, raising fire severity."""
        self._feeds = {feed.camera_id: feed for feed in feeds}
        self._models = list(models)
        self._send_snapshot = send_snapshot
        self._blurrer = blurrer
        self._sensors = sensors
        self._quality = config.privacy.jpeg_quality if config.privacy else 80
        self._pipeline: Pipeline | None = None
        if config.analysis is not None:
            cameras = dict.fromkeys(self._feeds, config.analysis)
            self._pipeline = Pipeline(self._models, cameras)

    def step(self, frames: Sequence[CameraFrame]) -> dict[str, AnalysedFrame]:
        """Analyse the newest frame of some cameras together; publish what they cause."""
        if self._pipeline is not None:
            reading = self._sensors() if self._sensors is not None else None
            readings = dict.fromkeys(self._feeds, reading) if reading is not None else None
            hazards = self._pipeline.analyse(frames, readings)
            detections = [self._pipeline.last_detections[f.camera_id] for f in frames]
            spent = self._pipeline.last_inference_ms
        else:
            hazards = []
            detections, spent = detect_batch(self._models, frames)
        share = spent / max(1, len(frames))
        results: dict[str, AnalysedFrame] = {}
        for frame, found in zip(frames, detections, strict=True):
            h, w = frame.image.shape[:2]
            feed = self._feeds[frame.camera_id]
            for event in feed.presence.update(frame.ts, found, w, h):
                feed.sink.publish(event)
            results[frame.camera_id] = AnalysedFrame(found, share)
        images = {f.camera_id: f.image for f in frames}
        for camera_id, hazard in hazards:
            self._publish(camera_id, hazard, images[camera_id], results[camera_id].detections)
        return results

    def close(self, now: datetime) -> None:
        """End every open event (the node is stopping)."""
        for feed in self._feeds.values():
            for event in feed.presence.close(now):
                feed.sink.publish(event)
        if self._pipeline is not None:
            for camera_id, hazard in self._pipeline.close(now):
                self._feeds[camera_id].sink.publish(hazard)

    def _publish(
        self, camera_id: str, hazard: HazardEvent, image: np.ndarray, people: list[Detection]
    ) -> None:
        snapshot = None
        if hazard.phase is Phase.NEW and self._blurrer is not None:
            snapshot = self._snapshot(camera_id, image, people)
        self._feeds[camera_id].sink.publish(hazard, has_snapshot=snapshot is not None)
        if snapshot is not None:
            # After the event: a station shows the alert at once, the picture when it lands.
            self._send_snapshot(hazard.event_id, snapshot)

    def _snapshot(self, camera_id: str, image: np.ndarray, people: list[Detection]) -> bytes | None:
        assert self._blurrer is not None
        try:
            data = self._blurrer.snapshot(image, people, self._quality)
            if len(data) > MAX_SNAPSHOT_BYTES:
                half = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2))
                scaled = [_halve(d) for d in people]
                data = self._blurrer.snapshot(half, scaled, 60)
        except (cv2.error, RuntimeError) as err:
            log.warning("camera %s: no snapshot: %s", camera_id, err)
            return None
        return data if len(data) <= MAX_SNAPSHOT_BYTES else None


class FrameAnalysis:
    """One camera's analysis: a StationAnalysis with a single feed."""

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
        """Analyse `camera_id` with `models` (the first is the configured detector)."""
        self.camera_id = camera_id
        self._station = StationAnalysis(
            config,
            [CameraFeed(camera_id, presence, sink)],
            [ModelUse(model) for model in models],
            send_snapshot,
            blurrer,
            sensors,
        )

    def step(self, ts: datetime, image: np.ndarray) -> AnalysedFrame:
        """Analyse one frame taken at `ts`; publish what it causes."""
        return self._station.step([CameraFrame(self.camera_id, ts, image)])[self.camera_id]

    def close(self, now: datetime) -> None:
        """End every open event (the node is stopping)."""
        self._station.close(now)


def _halve(detection: Detection) -> Detection:
    x1, y1, x2, y2 = detection.box
    return Detection(
        detection.role,
        detection.class_name,
        detection.score,
        (x1 / 2, y1 / 2, x2 / 2, y2 / 2),
        detection.track_id,
    )
