"""Hazard events out of vision: one record per NEW / UPDATE / END, and the latch that emits them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from vision.presence import Phase, new_event_id


class Hazard(StrEnum):
    """What an event is about; the values are station.contracts.EventKind's."""

    PERSON = "person"
    FALL = "fall"
    FIRE = "fire"
    SMOKE = "smoke"
    CROWD = "crowd"


class Severity(StrEnum):
    """How urgent an event is; sensor readings that agree with the camera raise it."""

    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class HazardEvent:
    """One step of a hazard event; `event_id` is shared by its NEW, UPDATEs and END."""

    event_id: str
    kind: Hazard
    phase: Phase
    at: datetime
    started_at: datetime
    score: float
    count: int = 0
    zone: str = ""
    severity: Severity = Severity.WARNING
    track_id: int | None = None


class EventLatch:
    """Holds at most one open event and turns open/refresh/close calls into HazardEvents.

    UPDATEs are sent only when the count or severity changed, at most every `update_every_s`.
    """

    def __init__(
        self,
        kind: Hazard,
        zone: str = "",
        *,
        update_every_s: float = 10.0,
        id_factory: Callable[[], str] = new_event_id,
    ) -> None:
        """Latch events of one kind in one zone."""
        self.kind = kind
        self.zone = zone
        self._update_every = timedelta(seconds=update_every_s)
        self._new_id = id_factory
        self._open: HazardEvent | None = None
        self._last_emit: datetime | None = None

    @property
    def current(self) -> HazardEvent | None:
        """Return the last message of the open event, or None when none is open."""
        return self._open

    def open(
        self,
        now: datetime,
        started_at: datetime,
        score: float,
        *,
        count: int = 0,
        severity: Severity = Severity.WARNING,
        track_id: int | None = None,
    ) -> list[HazardEvent]:
        """Open an event (NEW), or refresh the open one; return what must be sent."""
        if self._open is not None:
            return self.refresh(now, score, count=count, severity=severity)
        event = HazardEvent(
            self._new_id(),
            self.kind,
            Phase.NEW,
            now,
            started_at,
            _unit(score),
            count,
            self.zone,
            severity,
            track_id,
        )
        self._open = event
        self._last_emit = now
        return [event]

    def refresh(
        self, now: datetime, score: float, *, count: int, severity: Severity
    ) -> list[HazardEvent]:
        """Note the open event's latest state; an UPDATE when it changed and one is due."""
        current = self._open
        if current is None:
            return []
        changed = count != current.count or severity != current.severity
        best = max(current.score, _unit(score))
        self._open = replace(current, score=best)
        due = self._last_emit is None or now - self._last_emit >= self._update_every
        # Severity rising is news at once; a count change waits for the rate limit.
        rising = severity is Severity.CRITICAL and current.severity is Severity.WARNING
        if not changed or not (due or rising):
            return []
        update = replace(
            current, phase=Phase.UPDATE, at=now, score=best, count=count, severity=severity
        )
        self._open = update
        self._last_emit = now
        return [update]

    def close(self, now: datetime) -> list[HazardEvent]:
        """End the open event, if any."""
        current = self._open
        if current is None:
            return []
        self._open = None
        self._last_emit = None
        return [replace(current, phase=Phase.END, at=now)]


def _unit(score: float) -> float:
    return min(max(float(score), 0.0), 1.0)
