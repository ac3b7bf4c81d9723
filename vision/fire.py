"""Fire and smoke logic: seen in most of the last N frames, in a region that flickers."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vision.detector import Box, Detection
from vision.events import EventLatch, Hazard, HazardEvent, Severity
from vision.roles import Role

# Flicker is judged on a small grey copy: enough for flames, cheap enough for every frame.
_THUMB_W = 160


class FireSettings(BaseModel):
    """Window, flicker and sensor thresholds of the fire and smoke logic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(default=20, ge=2, le=500, description="Frames looked back at.")
    clear_fraction: float = Field(
        default=0.2,
        ge=0,
        lt=0.5,
        description="Seen in fewer than this share of the window ends it.",
    )
    fire_flicker: float = Field(
        default=0.02, ge=0, le=1, description="Least mean frame-to-frame change in a fire box."
    )
    smoke_flicker: float = Field(
        default=0.008, ge=0, le=1, description="Least mean frame-to-frame change in a smoke box."
    )
    hot_c: float = Field(
        default=50.0, description="A temperature reading at or above this makes it critical."
    )


@dataclass(frozen=True)
class SensorReading:
    """Readings of the room's sensors at a moment; None where a sensor is absent."""

    smoke_alarm: bool | None = None
    temperature_c: float | None = None


@dataclass
class _Seen:
    present: bool
    score: float
    flicker: float | None


class _RoleWatch:
    """The window of one role (fire or smoke)."""

    def __init__(self, role: Role, kind: Hazard, window: int) -> None:
        self.role = role
        self.latch = EventLatch(kind)
        self.history: deque[_Seen] = deque(maxlen=window)

    def share(self) -> float:
        return sum(1 for s in self.history if s.present) / max(len(self.history), 1)

    def mean_flicker(self) -> float:
        values = [s.flicker for s in self.history if s.flicker is not None]
        return float(np.mean(values)) if values else 0.0

    def mean_score(self) -> float:
        scores = [s.score for s in self.history if s.present]
        return float(np.mean(scores)) if scores else 0.0


class FireMonitor:
    """Per-camera fire and smoke state; frames in, FIRE / SMOKE events out."""

    def __init__(self, settings: FireSettings | None = None) -> None:
        """Watch with the given window and thresholds."""
        self.settings = settings or FireSettings()
        window = self.settings.window
        self._watches = (
            _RoleWatch(Role.FIRE, Hazard.FIRE, window),
            _RoleWatch(Role.SMOKE, Hazard.SMOKE, window),
        )
        self._previous: np.ndarray | None = None

    def update(
        self,
        now: datetime,
        detections: Sequence[Detection],
        frame: np.ndarray,
        sensors: SensorReading | None = None,
    ) -> list[HazardEvent]:
        """Feed one frame (BGR) and its detections; return the events it causes."""
        thumb, scale = _thumbnail(frame)
        out: list[HazardEvent] = []
        for watch in self._watches:
            boxes = [d for d in detections if d.role is watch.role]
            flicker = None
            if boxes and self._previous is not None and self._previous.shape == thumb.shape:
                flicker = region_change(self._previous, thumb, [d.box for d in boxes], scale)
            score = max((d.score for d in boxes), default=0.0)
            watch.history.append(_Seen(bool(boxes), score, flicker))
            out += self._judge(watch, now, severity_of(sensors, self.settings.hot_c))
        self._previous = thumb
        return out

    def close(self, now: datetime) -> list[HazardEvent]:
        """End open events (the camera is going away)."""
        out: list[HazardEvent] = []
        for watch in self._watches:
            out += watch.latch.close(now)
        return out

    def _judge(self, watch: _RoleWatch, now: datetime, severity: Severity) -> list[HazardEvent]:
        s = self.settings
        share = watch.share()
        full = len(watch.history) == watch.history.maxlen
        if watch.latch.current is not None:
            if share < s.clear_fraction:
                return watch.latch.close(now)
            return watch.latch.refresh(now, watch.mean_score(), count=0, severity=severity)
        least = s.fire_flicker if watch.role is Role.FIRE else s.smoke_flicker
        # Majority of a full window, and moving: a red jacket or a lamp holds still.
        if full and share > 0.5 and watch.mean_flicker() >= least:
            return watch.latch.open(now, now, watch.mean_score(), severity=severity)
        return []


def severity_of(sensors: SensorReading | None, hot_c: float) -> Severity:
    """Return CRITICAL when a smoke alarm or a hot reading agrees with the camera."""
    if sensors is None:
        return Severity.WARNING
    hot = sensors.temperature_c is not None and sensors.temperature_c >= hot_c
    return Severity.CRITICAL if sensors.smoke_alarm or hot else Severity.WARNING


def region_change(before: np.ndarray, after: np.ndarray, boxes: list[Box], scale: float) -> float:
    """Return the mean absolute grey change (0..1) inside the boxes between two thumbnails."""
    mask = np.zeros(after.shape, dtype=bool)
    h, w = after.shape
    for x1, y1, x2, y2 in boxes:
        c1, r1 = max(int(x1 * scale), 0), max(int(y1 * scale), 0)
        c2, r2 = min(int(np.ceil(x2 * scale)), w), min(int(np.ceil(y2 * scale)), h)
        mask[r1:r2, c1:c2] = True
    if not mask.any():
        return 0.0
    diff = np.abs(after.astype(np.int16) - before.astype(np.int16))
    return float(diff[mask].mean()) / 255.0


def _thumbnail(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """Return a small grey copy of a BGR frame and the pixel scale from frame to it."""
    scale = _THUMB_W / frame.shape[1]
    height = max(round(frame.shape[0] * scale), 1)
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return cv2.resize(grey, (_THUMB_W, height), interpolation=cv2.INTER_AREA), scale
