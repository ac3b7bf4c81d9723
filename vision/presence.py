"""Temporal logic for "someone is in the zone": confirm, update, clear; the caller gives time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from vision.detector import Detection
from vision.events import EventLatch, Hazard, HazardEvent, Severity, new_event_id
from vision.roles import Role
from vision.zones import Zone


class PresenceSettings(BaseModel):
    """Timings of the presence (occupancy) event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    confirm_s: float = Field(default=1.0, ge=0, description="Seen this long before NEW.")
    clear_s: float = Field(default=3.0, gt=0, description="Unseen this long before END.")
    update_every_s: float = Field(default=10.0, ge=0, description="Fewest seconds between UPDATEs.")
    refresh_s: float | None = Field(
        default=60.0,
        gt=0,
        description="UPDATE at least this often while open; null: only on change.",
    )


class PresenceMonitor:
    """Turn per-frame detections into NEW / UPDATE / END events for one role in one zone.

    A NEW is emitted once the role has been seen in the zone for `confirm_s` (gaps shorter than
    `confirm_s` while confirming are tolerated); while the event is open the latch sends UPDATEs
    on a count change or as a heartbeat; an END once nothing was seen for `clear_s`, so a missed
    frame never splits an event.
    """

    def __init__(
        self,
        zone: Zone,
        settings: PresenceSettings | None = None,
        role: Role = Role.PERSON,
        *,
        id_factory: Callable[[], str] = new_event_id,
    ) -> None:
        """Watch `role` in `zone` with the given timings."""
        self.zone = zone
        self.role = role
        self.settings = s = settings or PresenceSettings()
        self._confirm = timedelta(seconds=s.confirm_s)
        self._clear = timedelta(seconds=s.clear_s)
        self._latch = EventLatch(
            Hazard.PERSON,
            zone.name,
            update_every_s=s.update_every_s,
            refresh_s=s.refresh_s,
            id_factory=id_factory,
        )
        self._pending_since: datetime | None = None
        self._pending_score = 0.0
        self._last_seen: datetime | None = None

    @property
    def active(self) -> bool:
        """Return whether an event is open (a NEW was emitted and no END yet)."""
        return self._latch.current is not None

    def update(
        self, now: datetime, detections: Sequence[Detection], frame_w: int, frame_h: int
    ) -> list[HazardEvent]:
        """Feed one frame's detections taken at `now`; return the events this frame causes."""
        inside = [
            d for d in detections if d.role == self.role and self.zone.contains(d, frame_w, frame_h)
        ]
        if inside:
            return self._seen(now, inside)
        return self._absent(now)

    def close(self, now: datetime) -> list[HazardEvent]:
        """End the open event now, if any (e.g. the camera is being removed)."""
        self._pending_since = None
        return self._latch.close(now, count=0)

    def _seen(self, now: datetime, inside: list[Detection]) -> list[HazardEvent]:
        score = max(d.score for d in inside)
        gap_too_long = self._last_seen is not None and now - self._last_seen >= self._confirm
        if self._pending_since is not None and gap_too_long:
            self._pending_since = None  # confirmation starts again
        self._last_seen = now
        if self._latch.current is not None:
            return self._latch.refresh(now, score, count=len(inside))
        if self._pending_since is None:
            self._pending_since, self._pending_score = now, 0.0
        self._pending_score = max(self._pending_score, score)
        if now - self._pending_since < self._confirm:
            return []
        self._pending_since = None
        return self._latch.open(
            now, now, self._pending_score, count=len(inside), severity=Severity.INFO
        )

    def _absent(self, now: datetime) -> list[HazardEvent]:
        if self._last_seen is None:
            return []
        gap = now - self._last_seen
        if self._latch.current is None:
            if self._pending_since is not None and gap >= self._confirm:
                self._pending_since = None
            return []
        if gap < self._clear:
            return []
        # Nobody is left in the zone.
        return self.close(now)
