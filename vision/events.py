"""The one hazard lifecycle: NEW / UPDATE / END records, their numbering, and the latch.

Every event in the system, seen by a camera or reported by a device rule, is a `HazardEvent`
emitted by an `EventLatch`; the edge translates it to the wire `Event` in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Phase(StrEnum):
    """Lifecycle step of an event."""

    NEW = "new"
    UPDATE = "update"
    END = "end"


class Hazard(StrEnum):
    """What an event is about; the values are station.contracts.EventKind's."""

    PERSON = "person"
    FALL = "fall"
    FIRE = "fire"
    SMOKE = "smoke"
    CROWD = "crowd"
    HEAT = "heat"
    DOOR_FORCED = "door_forced"
    DOOR_HELD_OPEN = "door_held_open"
    OVERCURRENT = "overcurrent"
    DEVICE_OFFLINE = "device_offline"


CAMERA_HAZARDS = frozenset({Hazard.PERSON, Hazard.FALL, Hazard.FIRE, Hazard.SMOKE, Hazard.CROWD})
"""Kinds a camera can see; the rest come from the station's devices."""


class Severity(StrEnum):
    """How urgent an event is; sensor readings that agree with the camera raise it."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


def new_event_id() -> str:
    """Return a fresh, globally unique event id."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class HazardEvent:
    """One step of an event; `event_id` is shared by its NEW, UPDATEs and END, `seq` counts them."""

    event_id: str
    kind: Hazard
    phase: Phase
    seq: int
    at: datetime
    started_at: datetime
    score: float
    count: int = 0
    zone: str = ""
    severity: Severity = Severity.WARNING
    track_id: int | None = None
    evidence: str = ""


class EventLatch:
    """Holds at most one open event and turns open/refresh/close calls into HazardEvents.

    An UPDATE goes out when the count, severity or evidence changed, at most every
    `update_every_s` (a rise to CRITICAL at once), or as a heartbeat every `refresh_s`.
    """

    def __init__(
        self,
        kind: Hazard,
        zone: str = "",
        *,
        update_every_s: float = 10.0,
        refresh_s: float | None = None,
        id_factory: Callable[[], str] = new_event_id,
    ) -> None:
        """Latch events of one kind in one zone."""
        self.kind = kind
        self.zone = zone
        self._update_every = timedelta(seconds=update_every_s)
        self._refresh = None if refresh_s is None else timedelta(seconds=refresh_s)
        self._new_id = id_factory
        self._open: HazardEvent | None = None
        self._last_emit: datetime | None = None

    @property
    def current(self) -> HazardEvent | None:
        """Return the last state of the open event, or None when none is open."""
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
        evidence: str = "",
    ) -> list[HazardEvent]:
        """Open an event (NEW), or refresh the open one; return what must be sent."""
        if self._open is not None:
            return self.refresh(now, score, count=count, severity=severity, evidence=evidence)
        event = HazardEvent(
            event_id=self._new_id(),
            kind=self.kind,
            phase=Phase.NEW,
            seq=0,
            at=now,
            started_at=started_at,
            score=_unit(score),
            count=count,
            zone=self.zone,
            severity=severity,
            track_id=track_id,
            evidence=evidence,
        )
        self._open = event
        self._last_emit = now
        return [event]

    def refresh(
        self,
        now: datetime,
        score: float,
        *,
        count: int,
        severity: Severity | None = None,
        evidence: str | None = None,
    ) -> list[HazardEvent]:
        """Note the open event's latest state; an UPDATE when one is due."""
        current = self._open
        if current is None:
            return []
        severity = current.severity if severity is None else severity
        evidence = current.evidence if evidence is None else evidence
        best = max(current.score, _unit(score))
        self._open = replace(current, score=best)
        changed = (count, severity, evidence) != (current.count, current.severity, current.evidence)
        since = None if self._last_emit is None else now - self._last_emit
        due = since is None or since >= self._update_every
        heartbeat = self._refresh is not None and (since is None or since >= self._refresh)
        # Severity rising is news at once; other changes wait for the rate limit.
        rising = severity is Severity.CRITICAL and current.severity is Severity.WARNING
        if not ((changed and (due or rising)) or (heartbeat and due)):
            return []
        update = replace(
            current,
            phase=Phase.UPDATE,
            seq=current.seq + 1,
            at=now,
            score=best,
            count=count,
            severity=severity,
            evidence=evidence,
        )
        self._open = update
        self._last_emit = now
        return [update]

    def close(self, now: datetime, *, count: int | None = None) -> list[HazardEvent]:
        """End the open event, if any (`count`: the count it ends with, if it changed)."""
        current = self._open
        if current is None:
            return []
        self._open = None
        self._last_emit = None
        final = current.count if count is None else count
        return [replace(current, phase=Phase.END, seq=current.seq + 1, at=now, count=final)]


def _unit(score: float) -> float:
    return min(max(float(score), 0.0), 1.0)
