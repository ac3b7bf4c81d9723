"""Fall logic: a tracked person goes from upright to down and stays down outside rest zones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from vision.detector import Box, Detection
from vision.events import EventLatch, Hazard, HazardEvent
from vision.roles import Role
from vision.zones import Zone, in_any


class FallSettings(BaseModel):
    """Timings and geometry of the fall logic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    confirm_s: float = Field(default=5.0, ge=0, description="Down this long before an event.")
    unseen_upright_extra_s: float = Field(
        default=10.0,
        ge=0,
        description="Extra wait for a person first seen already down (never seen upright).",
    )
    recover_s: float = Field(default=1.0, ge=0, description="Upright this long ends the event.")
    occlusion_s: float = Field(
        default=3.0, gt=0, description="A down person unseen this long is no longer down."
    )
    clear_s: float = Field(default=15.0, gt=0, description="Track unseen this long ends it.")
    lying_aspect: float = Field(
        default=1.3, gt=0, description="Box width/height at or above which a person is lying."
    )
    handover_overlap: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="Overlap (of the smaller box) for a new track id to take over a lost one.",
    )


class Posture(StrEnum):
    """How a person is seen in one frame."""

    UPRIGHT = "upright"
    DOWN = "down"
    UNSURE = "unsure"


def posture_of(detection: Detection, lying_aspect: float) -> Posture:
    """Judge posture from the model's class and the box geometry."""
    if detection.role is Role.FALLEN:
        return Posture.DOWN
    if detection.aspect >= lying_aspect:
        return Posture.DOWN
    # Upright people are taller than wide; crouching or sitting boxes are nearly square.
    return Posture.UPRIGHT if detection.aspect <= 0.9 else Posture.UNSURE


@dataclass
class _Track:
    box: Box
    last_seen: datetime
    upright_at: datetime | None = None
    down_since: datetime | None = None
    down_seen: datetime | None = None
    up_since: datetime | None = None
    score: float = 0.0
    latch: EventLatch = field(default_factory=lambda: EventLatch(Hazard.FALL))


class FallMonitor:
    """Per-camera fall state over tracked person detections; the caller gives time."""

    def __init__(self, settings: FallSettings | None = None, rest_zones: Sequence[Zone] = ()):
        """Watch for falls; lying inside any of `rest_zones` is normal."""
        self.settings = settings or FallSettings()
        self.rest_zones = tuple(rest_zones)
        self._tracks: dict[int, _Track] = {}
        self._anonymous = -1

    def update(
        self, now: datetime, detections: Sequence[Detection], frame_w: int, frame_h: int
    ) -> list[HazardEvent]:
        """Feed one frame's detections taken at `now`; return the events it causes."""
        people = [d for d in detections if d.role in (Role.PERSON, Role.FALLEN)]
        # Ids in this frame are live people: never hand their state to someone else.
        seen = {d.track_id for d in people if d.track_id is not None}
        out: list[HazardEvent] = []
        for det in people:
            key = self._key_for(det, now, seen)
            seen.add(key)
            out += self._observe(self._tracks[key], det, now, frame_w, frame_h)
        out += self._expire(now, seen)
        return out

    def close(self, now: datetime) -> list[HazardEvent]:
        """End every open fall event (the camera is going away)."""
        out: list[HazardEvent] = []
        for track in self._tracks.values():
            out += track.latch.close(now)
        self._tracks.clear()
        return out

    @property
    def open_events(self) -> int:
        """Return how many fall events are open."""
        return sum(1 for t in self._tracks.values() if t.latch.current is not None)

    def _key_for(self, det: Detection, now: datetime, taken: set[int]) -> int:
        key = det.track_id
        if key is None:
            self._anonymous -= 1
            key = self._anonymous
        if key in self._tracks:
            return key
        # A new id where a person was just lost is the same person: trackers switch ids
        # exactly when a body changes shape, as in a fall.
        heir = self._lost_match(det.box, taken | {key})
        self._tracks[key] = self._tracks.pop(heir) if heir is not None else _Track(det.box, now)
        return key

    def _lost_match(self, box: Box, exclude: set[int]) -> int | None:
        best, best_overlap = None, self.settings.handover_overlap
        for key, track in self._tracks.items():
            if key in exclude:
                continue
            overlap = overlap_of_smaller(box, track.box)
            if overlap >= best_overlap:
                best, best_overlap = key, overlap
        return best

    def _observe(
        self, track: _Track, det: Detection, now: datetime, frame_w: int, frame_h: int
    ) -> list[HazardEvent]:
        s = self.settings
        posture = posture_of(det, s.lying_aspect)
        cx, cy = det.centre
        if posture is Posture.DOWN and in_any(self.rest_zones, cx / frame_w, cy / frame_h):
            posture = Posture.UNSURE  # lying on a bench or a cot is rest, not a fall
        track.box, track.last_seen = det.box, now
        if posture is Posture.UPRIGHT:
            return self._upright(track, now)
        track.up_since = None
        if posture is Posture.DOWN:
            return self._down(track, det.score, now)
        if track.down_seen is not None and now - track.down_seen > _s(s.occlusion_s):
            track.down_since = None
        return []

    def _upright(self, track: _Track, now: datetime) -> list[HazardEvent]:
        track.upright_at = now
        track.up_since = track.up_since or now
        if now - track.up_since < _s(self.settings.recover_s):
            return []
        track.down_since = track.down_seen = None
        return track.latch.close(now)

    def _down(self, track: _Track, score: float, now: datetime) -> list[HazardEvent]:
        s = self.settings
        if track.down_seen is None or now - track.down_seen > _s(s.occlusion_s):
            track.down_since, track.score = now, 0.0
        track.down_seen = now
        track.score = max(track.score, score)
        assert track.down_since is not None
        wait = _s(s.confirm_s)
        came_down = track.upright_at is not None and track.upright_at <= track.down_since
        if not came_down:
            wait += _s(s.unseen_upright_extra_s)
        if now - track.down_since < wait:
            return []
        return track.latch.open(now, track.down_since, track.score, count=1)

    def _expire(self, now: datetime, seen: set[int]) -> list[HazardEvent]:
        out: list[HazardEvent] = []
        for key in [k for k in self._tracks if k not in seen]:
            track = self._tracks[key]
            if now - track.last_seen >= _s(self.settings.clear_s):
                out += track.latch.close(now)
                del self._tracks[key]
        return out


def overlap_of_smaller(a: Box, b: Box) -> float:
    """Return the intersection area over the smaller box's area (0..1)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return (w * h) / max(smaller, 1e-6)


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
