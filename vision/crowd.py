"""Crowd logic: smoothed occupancy per zone against capacity, and door-line entries/exits."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from vision.detector import Detection
from vision.events import EventLatch, Hazard, HazardEvent
from vision.roles import Role
from vision.zones import DoorLine, Zone


class CrowdSettings(BaseModel):
    """Capacity, smoothing and hysteresis of the crowd logic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capacity: int = Field(default=10, ge=1, le=10_000, description="Most people the room holds.")
    smooth_frames: int = Field(default=5, ge=1, le=100, description="Median over this many frames.")
    hysteresis: int = Field(
        default=1, ge=0, description="Over ends only at capacity minus this, or fewer."
    )
    confirm_s: float = Field(default=3.0, ge=0, description="Over capacity this long: event.")
    clear_s: float = Field(default=5.0, ge=0, description="Back under this long: event ends.")
    empty_reset_s: float = Field(
        default=10.0, gt=0, description="Empty this long resets the door tally (drift)."
    )


class CrowdMonitor:
    """Occupancy of one zone; people count where their feet are."""

    def __init__(self, zone: Zone, settings: CrowdSettings | None = None) -> None:
        """Count people in `zone` against the settings' capacity."""
        self.zone = zone
        self.settings = settings or CrowdSettings()
        self._counts: deque[int] = deque(maxlen=self.settings.smooth_frames)
        self._latch = EventLatch(Hazard.CROWD, zone.name)
        self._over_since: datetime | None = None
        self._under_since: datetime | None = None

    @property
    def occupancy(self) -> int:
        """Return the smoothed number of people in the zone."""
        return round(median(self._counts)) if self._counts else 0

    def update(
        self, now: datetime, detections: Sequence[Detection], frame_w: int, frame_h: int
    ) -> list[HazardEvent]:
        """Feed one frame's detections; return CROWD events for this zone."""
        people = [d for d in detections if d.role in (Role.PERSON, Role.FALLEN)]
        self._counts.append(len(self.zone.select(people, frame_w, frame_h)))
        count = self.occupancy
        s = self.settings
        if count > s.capacity:
            self._under_since = None
            self._over_since = self._over_since or now
            if now - self._over_since >= timedelta(seconds=s.confirm_s):
                score = min(count / (2.0 * s.capacity), 1.0)
                return self._latch.open(now, self._over_since, score, count=count)
            return []
        self._over_since = None
        if self._latch.current is None:
            return []
        if count > s.capacity - s.hysteresis:
            # Hovering at the line: neither over again nor clearly under; keep it open.
            self._under_since = None
            return self._latch.refresh(now, 0.0, count=count, severity=self._latch.current.severity)
        self._under_since = self._under_since or now
        if now - self._under_since >= timedelta(seconds=s.clear_s):
            return self._latch.close(now)
        return []

    def close(self, now: datetime) -> list[HazardEvent]:
        """End the open event, if any."""
        return self._latch.close(now)


@dataclass
class _Crossing:
    side: int
    entered: bool = False
    exited: bool = False


class DoorCounter:
    """Entries and exits over a door line, each track counted at most once each way."""

    def __init__(self, line: DoorLine, empty_reset_s: float = 10.0) -> None:
        """Count crossings of `line`; an empty room for `empty_reset_s` zeroes the tally."""
        self.line = line
        self.entries = 0
        self.exits = 0
        self._tracks: dict[int, _Crossing] = {}
        self._empty_reset = timedelta(seconds=empty_reset_s)
        self._empty_since: datetime | None = None

    @property
    def inside(self) -> int:
        """Return entries minus exits, never below zero."""
        return max(self.entries - self.exits, 0)

    def update(
        self,
        now: datetime,
        detections: Sequence[Detection],
        frame_w: int,
        frame_h: int,
        occupancy: int,
    ) -> None:
        """Feed one frame's tracked people and the zone's occupancy seen by the camera."""
        for det in detections:
            if det.track_id is None or det.role not in (Role.PERSON, Role.FALLEN):
                continue
            x, y = det.bottom_centre
            self._step(det.track_id, self.line.side(x / frame_w, y / frame_h))
        self._reset_when_empty(now, occupancy)

    def _step(self, track_id: int, side: int) -> None:
        if side == 0:
            return  # on the line: wait until the feet are clearly on one side
        crossing = self._tracks.get(track_id)
        if crossing is None:
            self._tracks[track_id] = _Crossing(side)
            return
        if side == crossing.side:
            return
        crossing.side = side
        if side > 0 and not crossing.entered:
            crossing.entered = True
            self.entries += 1
        elif side < 0 and not crossing.exited:
            crossing.exited = True
            self.exits += 1

    def _reset_when_empty(self, now: datetime, occupancy: int) -> None:
        if occupancy > 0:
            self._empty_since = None
            return
        self._empty_since = self._empty_since or now
        if now - self._empty_since >= self._empty_reset and self.inside:
            # Missed crossings pile up over a day; an empty room is a known zero.
            self.exits = self.entries
