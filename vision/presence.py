"""Temporal logic for "someone is in the zone": confirm, update, clear; the caller gives time."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from vision.detector import Detection
from vision.roles import Role
from vision.zones import Zone


class Phase(StrEnum):
    """Lifecycle step of an event."""

    NEW = "new"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True)
class PresenceEvent:
    """One step of a presence event; `event_id` is shared by its NEW, UPDATEs and END."""

    event_id: str
    phase: Phase
    at: datetime
    started_at: datetime
    score: float
    count: int
    zone: str


@dataclass
class _Open:
    """The event in progress."""

    event_id: str
    started_at: datetime
    score: float
    count: int
    last_emit: datetime
    last_emit_count: int


def new_event_id() -> str:
    """Return a fresh, globally unique event id."""
    return uuid.uuid4().hex


class PresenceMonitor:
    """Turn per-frame detections into NEW / UPDATE / END events for one role in one zone.

    A NEW is emitted once the role has been seen in the zone for `confirm_s` (gaps shorter than
    `confirm_s` while confirming are tolerated); while the event is open an UPDATE is emitted at
    most every `update_every_s`, when the count changed or `refresh_s` passed since the last
    message; an END once nothing was seen for `clear_s`, so a missed frame never splits an event.
    """

    def __init__(
        self,
        zone: Zone,
        role: Role = Role.PERSON,
        *,
        confirm_s: float = 1.0,
        clear_s: float = 3.0,
        update_every_s: float = 10.0,
        refresh_s: float | None = 60.0,
        id_factory: Callable[[], str] = new_event_id,
    ) -> None:
        """Watch `role` in `zone` with the given timings (seconds)."""
        self.zone = zone
        self.role = role
        self._confirm = timedelta(seconds=confirm_s)
        self._clear = timedelta(seconds=clear_s)
        self._update_every = timedelta(seconds=update_every_s)
        self._refresh = None if refresh_s is None else timedelta(seconds=refresh_s)
        self._new_id = id_factory
        self._pending_since: datetime | None = None
        self._pending_score = 0.0
        self._last_seen: datetime | None = None
        self._open: _Open | None = None

    @property
    def active(self) -> bool:
        """Return whether an event is open (a NEW was emitted and no END yet)."""
        return self._open is not None

    def update(
        self, now: datetime, detections: Sequence[Detection], frame_w: int, frame_h: int
    ) -> list[PresenceEvent]:
        """Feed one frame's detections taken at `now`; return the events this frame causes."""
        inside = [
            d for d in detections if d.role == self.role and self.zone.contains(d, frame_w, frame_h)
        ]
        if inside:
            return self._seen(now, inside)
        return self._absent(now)

    def close(self, now: datetime) -> list[PresenceEvent]:
        """End the open event now, if any (e.g. the camera is being removed)."""
        if self._open is None:
            return []
        return [self._end(now)]

    def _seen(self, now: datetime, inside: list[Detection]) -> list[PresenceEvent]:
        score = max(d.score for d in inside)
        count = len(inside)
        gap_too_long = self._last_seen is not None and now - self._last_seen >= self._confirm
        if self._pending_since is not None and gap_too_long:
            self._pending_since = None  # confirmation starts again
        self._last_seen = now
        current = self._open
        if current is None:
            return self._confirming(now, score, count)
        current.score = max(current.score, score)
        current.count = count
        since = now - current.last_emit
        if since < self._update_every:
            return []
        refresh_due = self._refresh is not None and since >= self._refresh
        if count == current.last_emit_count and not refresh_due:
            return []
        current.last_emit = now
        current.last_emit_count = count
        return [self._message(current, Phase.UPDATE, now)]

    def _confirming(self, now: datetime, score: float, count: int) -> list[PresenceEvent]:
        if self._pending_since is None:
            self._pending_since = now
            self._pending_score = 0.0
        self._pending_score = max(self._pending_score, score)
        if now - self._pending_since < self._confirm:
            return []
        opened = _Open(self._new_id(), now, self._pending_score, count, now, count)
        self._open = opened
        self._pending_since = None
        return [self._message(opened, Phase.NEW, now)]

    def _absent(self, now: datetime) -> list[PresenceEvent]:
        if self._last_seen is None:
            return []
        gap = now - self._last_seen
        if self._open is None:
            if self._pending_since is not None and gap >= self._confirm:
                self._pending_since = None
            return []
        if gap < self._clear:
            return []
        return [self._end(now)]

    def _end(self, now: datetime) -> PresenceEvent:
        assert self._open is not None
        closing = self._open
        closing.count = 0  # nobody is left in the zone
        self._open = None
        self._pending_since = None
        return self._message(closing, Phase.END, now)

    def _message(self, event: _Open, phase: Phase, now: datetime) -> PresenceEvent:
        return PresenceEvent(
            event_id=event.event_id,
            phase=phase,
            at=now,
            started_at=event.started_at,
            score=event.score,
            count=event.count,
            zone=self.zone.name,
        )
