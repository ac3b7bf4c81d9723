"""Fire and smoke logic: seen in most recent frames, in a region that flickers or grows.

Fire opens on a majority of the last `confirm_frames` frames whose regions flicker (measured at
each region's own scale, so a far fire counts). Smoke seen with fire follows the same
rule; smoke alone must persist for `smoke_alone_s` and grow, because vapour, mist and
dust look like smoke for a moment; so must a small flame with no smoke (a candle, a
lamp). A smoke sensor or a temperature reading that agrees
confirms either at once, as CRITICAL.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vision.detector import Detection
from vision.events import EventLatch, Hazard, HazardEvent, Severity
from vision.flicker import covered_share, grey_frame, growth, region_flicker
from vision.roles import Role

log = logging.getLogger(__name__)
# Sightings kept per role: enough for smoke_alone_s at any frame rate a camera is read at.
_HISTORY = 600


class FireSettings(BaseModel):
    """Window, flicker, growth and sensor thresholds of the fire and smoke logic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: int = Field(
        default=20, ge=2, le=500, description="Frames looked back at to end an event."
    )
    confirm_frames: int = Field(
        default=8,
        ge=2,
        le=500,
        description="Frames looked back at to open one: seen in most of them, and moving.",
    )
    clear_fraction: float = Field(
        default=0.2,
        ge=0,
        lt=0.5,
        description="Seen in fewer than this share of the window ends it.",
    )
    fire_flicker: float = Field(
        default=0.03,
        ge=0,
        le=1,
        description="Least mean frame-to-frame change of a fire region, compared as a small "
        "grey patch at the region's own scale (0..1).",
    )
    smoke_flicker: float = Field(
        default=0.015, ge=0, le=1, description="Least mean change of a smoke region (as above)."
    )
    smoke_alone_s: float = Field(
        default=10.0,
        ge=0,
        description="Smoke with no fire and no agreeing sensor: seen in most frames this long.",
    )
    smoke_growth: float = Field(
        default=1.2,
        ge=0,
        description="Smoke alone: least growth of its region over smoke_alone_s (late/early).",
    )
    small_flame_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="A flame covering less than this share of the frame, with no smoke seen, "
        "is judged like smoke alone (a candle, a lamp): it must last smoke_alone_s and grow.",
    )
    flame_growth: float = Field(
        default=2.5,
        ge=0,
        description="Least growth of such a small flame (late/early): a candle's box "
        "wavers by half, a fire catching doubles.",
    )
    sensor_frames: int = Field(
        default=2,
        ge=1,
        description="Frames with the region seen that confirm at once when a sensor agrees.",
    )
    hot_c: float = Field(
        default=50.0, description="A temperature reading at or above this agrees with a fire."
    )
    rise_c: float = Field(
        default=8.0, gt=0, description="A temperature rise this large agrees with a fire."
    )
    rise_window_s: float = Field(
        default=600.0, gt=0, description="Seconds a temperature rise is measured over."
    )


@dataclass(frozen=True)
class SensorReading:
    """Readings of the room's sensors at a moment; None where a sensor is absent."""

    smoke_alarm: bool | None = None
    temperature_c: float | None = None


@dataclass(frozen=True)
class _Seen:
    at: datetime
    present: bool
    score: float
    flicker: float | None
    share: float


class _RoleWatch:
    """The recent sightings of one role (fire or smoke) and its latch."""

    def __init__(self, role: Role, kind: Hazard) -> None:
        self.role = role
        self.latch = EventLatch(kind)
        self.history: deque[_Seen] = deque(maxlen=_HISTORY)

    def recent(self, frames: int) -> list[_Seen]:
        return list(self.history)[-frames:]

    def since(self, start: datetime) -> list[_Seen]:
        return [s for s in self.history if s.at >= start]


def _present_share(seen: Sequence[_Seen]) -> float:
    return sum(1 for s in seen if s.present) / max(len(seen), 1)


def _mean_flicker(seen: Sequence[_Seen]) -> float:
    values = [s.flicker for s in seen if s.present and s.flicker is not None]
    return float(np.mean(values)) if values else 0.0


def _mean_share(seen: Sequence[_Seen]) -> float:
    shares = [s.share for s in seen if s.present]
    return float(np.mean(shares)) if shares else 0.0


def _mean_score(seen: Sequence[_Seen]) -> float:
    scores = [s.score for s in seen if s.present]
    return float(np.mean(scores)) if scores else 0.0


class FireMonitor:
    """Per-camera fire and smoke state; frames in, FIRE / SMOKE events out."""

    def __init__(self, settings: FireSettings | None = None) -> None:
        """Watch with the given window and thresholds."""
        self.settings = settings or FireSettings()
        self._fire = _RoleWatch(Role.FIRE, Hazard.FIRE)
        self._smoke = _RoleWatch(Role.SMOKE, Hazard.SMOKE)
        self._previous: np.ndarray | None = None
        self._temperatures: deque[tuple[datetime, float]] = deque()

    def update(
        self,
        now: datetime,
        detections: Sequence[Detection],
        frame: np.ndarray,
        sensors: SensorReading | None = None,
    ) -> list[HazardEvent]:
        """Feed one frame (BGR) and its detections; return the events it causes."""
        grey, scale = grey_frame(frame)
        h, w = frame.shape[:2]
        previous = self._previous if self._previous is not None else None
        if previous is not None and previous.shape != grey.shape:
            previous = None
        for watch in (self._fire, self._smoke):
            boxes = [d.box for d in detections if d.role is watch.role]
            flicker = region_flicker(previous, grey, boxes, scale) if previous is not None else None
            score = max((d.score for d in detections if d.role is watch.role), default=0.0)
            share = covered_share(boxes, w, h)
            watch.history.append(_Seen(now, bool(boxes), score, flicker, share))
        self._previous = grey
        agreeing = self._sensor_says(now, sensors)
        return self._judge_fire(now, agreeing) + self._judge_smoke(now, agreeing)

    @property
    def looked(self) -> bool:
        """Return whether it has watched long enough for any fire in view to have opened."""
        s, seen = self.settings, self._fire.history
        if len(seen) < max(s.window, s.confirm_frames):
            return False
        return seen[-1].at - seen[0].at >= timedelta(seconds=s.smoke_alone_s)

    def close(self, now: datetime) -> list[HazardEvent]:
        """End open events (the camera is going away)."""
        return self._fire.latch.close(now) + self._smoke.latch.close(now)

    def _sensor_says(self, now: datetime, sensors: SensorReading | None) -> str:
        """Return what the sensors say in favour of a fire ("" when nothing)."""
        if sensors is None:
            return ""
        if sensors.smoke_alarm:
            return "smoke sensor on"
        temp = sensors.temperature_c
        if temp is None:
            return ""
        self._temperatures.append((now, temp))
        horizon = now - timedelta(seconds=self.settings.rise_window_s)
        while self._temperatures and self._temperatures[0][0] < horizon:
            self._temperatures.popleft()
        if temp >= self.settings.hot_c:
            return f"temperature {temp:.0f} C"
        rise = temp - min(t for _, t in self._temperatures)
        return f"temperature up {rise:.0f} C" if rise >= self.settings.rise_c else ""

    def _judge_fire(self, now: datetime, agreeing: str) -> list[HazardEvent]:
        watch, s = self._fire, self.settings
        if watch.latch.current is not None:
            return self._keep(watch, now, agreeing)
        seen = watch.recent(s.confirm_frames)
        if agreeing and self._seen_now(seen):
            return self._open(watch, now, seen, agreeing)
        if not self._majority_moving(seen, s.fire_flicker):
            return []
        smoke_seen = any(x.present for x in self._smoke.recent(s.confirm_frames))
        if smoke_seen or _mean_share(seen) >= s.small_flame_share:
            return self._open(watch, now, seen, "smoke seen" if smoke_seen else agreeing)
        return self._small_flame(watch, now)

    def _small_flame(self, watch: _RoleWatch, now: datetime) -> list[HazardEvent]:
        # A small flame with no smoke is a candle or a lamp until it has lasted and grown.
        s = self.settings
        alone = watch.since(now - timedelta(seconds=s.smoke_alone_s))
        grew = growth([x.share for x in alone if x.present])
        if not (self._covers(watch, now) and self._majority_moving(alone, s.fire_flicker)):
            return []
        if grew is None or grew < s.flame_growth:
            return []
        return self._open(watch, now, alone, f"small flame growing x{grew:.1f}")

    def _judge_smoke(self, now: datetime, agreeing: str) -> list[HazardEvent]:
        watch, s = self._smoke, self.settings
        if watch.latch.current is not None:
            return self._keep(watch, now, agreeing)
        seen = watch.recent(s.confirm_frames)
        if agreeing and self._seen_now(seen):
            return self._open(watch, now, seen, agreeing)
        fire_seen = (
            self._fire.latch.current is not None
            or _present_share(self._fire.recent(s.confirm_frames)) > 0.5
        )
        if fire_seen and self._majority_moving(seen, s.smoke_flicker):
            return self._open(watch, now, seen, "fire seen")
        alone = watch.since(now - timedelta(seconds=s.smoke_alone_s))
        grew = growth([x.share for x in alone if x.present])
        if not (self._covers(watch, now) and self._majority_moving(alone, s.smoke_flicker)):
            return []
        if grew is None or grew < s.smoke_growth:
            return []
        return self._open(watch, now, alone, f"growing x{grew:.1f} over {s.smoke_alone_s:.0f} s")

    def _covers(self, watch: _RoleWatch, now: datetime) -> bool:
        start = now - timedelta(seconds=self.settings.smoke_alone_s)
        return bool(watch.history) and watch.history[0].at <= start

    def _seen_now(self, seen: Sequence[_Seen]) -> bool:
        present = sum(1 for x in seen if x.present)
        return bool(seen) and seen[-1].present and present >= self.settings.sensor_frames

    def _majority_moving(self, seen: Sequence[_Seen], least: float) -> bool:
        # Majority of a full window, and moving: a red jacket, a photo or a lamp holds still.
        full = len(seen) >= self.settings.confirm_frames
        return full and _present_share(seen) > 0.5 and _mean_flicker(seen) >= least

    def _open(
        self, watch: _RoleWatch, now: datetime, seen: Sequence[_Seen], why: str
    ) -> list[HazardEvent]:
        severity = Severity.CRITICAL if self._sensor_reason(why) else Severity.WARNING
        evidence = _evidence(watch.role, seen, why)
        log.info("%s confirmed: %s", watch.latch.kind.value, evidence)
        return watch.latch.open(now, now, _mean_score(seen), severity=severity, evidence=evidence)

    def _keep(self, watch: _RoleWatch, now: datetime, agreeing: str) -> list[HazardEvent]:
        s = self.settings
        current = watch.latch.current
        assert current is not None
        seen = watch.recent(s.window)
        # Judged on a full window since it opened: an event opened at once on a sensor's word
        # must not end on the empty frames from before it.
        opened_for = len(watch.since(current.started_at))
        if opened_for >= s.window and _present_share(seen) < s.clear_fraction:
            return watch.latch.close(now)
        severity = Severity.CRITICAL if agreeing else current.severity
        evidence = current.evidence
        if agreeing and agreeing not in evidence:
            evidence = f"{evidence}, {agreeing}"
        return watch.latch.refresh(
            now, _mean_score(seen), count=0, severity=severity, evidence=evidence
        )

    @staticmethod
    def _sensor_reason(why: str) -> bool:
        return why.startswith(("smoke sensor", "temperature"))


def _evidence(role: Role, seen: Sequence[_Seen], why: str) -> str:
    """Return the short human-readable reason an event opened."""
    present = sum(1 for x in seen if x.present)
    name = "flame" if role is Role.FIRE else "smoke"
    grew = growth([x.share for x in seen if x.present])
    shape = "growing" if grew is not None and grew >= 1.1 else "steady"
    text = f"{name} region {shape}, flicker {_mean_flicker(seen):.2f}, seen {present}/{len(seen)}"
    return f"{text}, {why}" if why else text
