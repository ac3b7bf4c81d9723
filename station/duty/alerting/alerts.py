"""Alert lifecycle: events fold into one alert per station + kind + zone; staff act on it.

Presence is occupancy, not an incident: it is kept as an event record and never raises an
alert. Fire and smoke are the station's, whichever camera or rule reported them: one alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from station.contracts import Event, EventPhase, EventSeverity
from station.duty.alerting.models import (
    Alert,
    AlertAction,
    AlertStatus,
    EventRecord,
    FeedEntry,
    Verdict,
)
from station.duty.errors import ConflictError, NotFoundError

logger = logging.getLogger(__name__)

STATION_OFFLINE = "station_offline"  # zone: the node that went quiet
SEVERITY_BY_KIND = {
    "fall": "critical",
    "fire": "critical",
    "smoke": "critical",
    "heat": "major",
    STATION_OFFLINE: "major",
    "crowd": "warning",
    "person": "info",
}
SYSTEM_ACTOR = "system"
# Hazards a camera sees are never held back; the rest follow from a station losing its node.
NEVER_SUPPRESSED = frozenset({"fall", "fire", "smoke", STATION_OFFLINE})
DEFAULT_REOPEN_WINDOW = timedelta(minutes=10)
# Kinds that are telemetry: recorded, counted on the dashboard, never an alert or a page.
OCCUPANCY_KINDS = frozenset({"person"})
# Kinds that fill the whole room: a camera and the smoke sensor's rule report the same one.
STATION_WIDE_KINDS = frozenset({"fire", "smoke"})


# Severities from least to most urgent; an alert's severity only ever moves up this list.
SEVERITY_RANK = {"info": 0, "warning": 1, "major": 2, "critical": 3}


class AlertNotFoundError(NotFoundError):
    """No alert has that id."""


class AlertTransitionError(ConflictError):
    """The alert is not in a state that allows the action."""


def alert_zone(kind: str, zone: str) -> str:
    """The zone an alert of this kind is keyed by: none for station-wide hazards."""
    return "" if kind in STATION_WIDE_KINDS else zone


def pages_anyone(severity: str) -> bool:
    """Whether an alert of this severity escalates: info-level ones are only shown."""
    return SEVERITY_RANK.get(severity, 1) > SEVERITY_RANK["info"]


def event_severity(kind: str, given: EventSeverity | None) -> str:
    """The node's judgement of an event where it gave one, else the kind's usual severity."""
    return given.value if given is not None else SEVERITY_BY_KIND.get(kind, "warning")


def raise_severity(alert: Alert, severity: str) -> None:
    """Raise the alert's severity to `severity` if that is more urgent; never lower it."""
    if SEVERITY_RANK.get(severity, 1) > SEVERITY_RANK.get(alert.severity, 1):
        alert.severity = severity


def record_change(session: Session, alert: Alert, change: str, actor: str, note: str = "") -> None:
    """Log an action on the alert's trail and append it to the live feed."""
    assert alert.id is not None
    session.add(AlertAction(alert_id=alert.id, action=change, actor=actor, note=note))
    post_to_feed(session, {alert.id: change})


def post_to_feed(session: Session, changes: dict[int, str]) -> None:
    """Append one feed entry per changed alert; the caller wakes the streams after commit."""
    for alert_id, change in changes.items():
        session.add(FeedEntry(alert_id=alert_id, change=change))
    session.info["feed_changes"] = session.info.get("feed_changes", 0) + len(changes)


@dataclass
class AlertBook:
    """Open alerts by key for one transaction: each key is read once, and a burst of
    repeats of one alert reaches the feed as one entry."""

    session: Session
    reopen_window: timedelta = DEFAULT_REOPEN_WINDOW
    opened: list[int] = field(default_factory=list, init=False)
    _open: dict[tuple[str, str, str], Alert | None] = field(default_factory=dict)
    _touched: dict[int, str] = field(default_factory=dict)

    def post(self) -> None:
        """Put the alerts this batch changed on the feed, once each."""
        post_to_feed(self.session, self._touched)
        self._touched.clear()

    def open_alert(self, station_id: str, kind: str, zone: str) -> Alert | None:
        """Return the unresolved alert for the key, if any, locked until commit."""
        key = (station_id, kind, zone)
        if key not in self._open:
            # FOR UPDATE: two replicas folding into one alert must not lose a count.
            self._open[key] = self.session.exec(
                select(Alert)
                .where(
                    Alert.station_id == station_id,
                    Alert.kind == kind,
                    Alert.zone == zone,
                    col(Alert.status) != AlertStatus.RESOLVED,
                )
                .with_for_update()
            ).first()
        return self._open[key]

    def lock(self, keys: set[tuple[str, str, str]]) -> None:
        """Lock the open alerts of these keys in one fixed order, so replicas never deadlock."""
        for key in sorted(keys):
            self.open_alert(*key)

    def raise_alert(
        self,
        station_id: str,
        kind: str,
        zone: str,
        at: datetime,
        score: float,
        event_id: str,
        severity: str | None = None,
        *,
        has_snapshot: bool = False,
    ) -> Alert:
        """Open an alert for the key, or fold this occurrence into the open one."""
        severity = severity or SEVERITY_BY_KIND.get(kind, "warning")
        alert = self.open_alert(station_id, kind, zone) or self._reopen(station_id, kind, zone, at)
        if alert is None:
            alert = self._open_new(station_id, kind, zone, at, score, event_id, severity)
        else:
            self._fold(alert, at, score, event_id, severity)
        if has_snapshot:
            # A sensor's event folded in later (the rules' fire after the camera's) has no
            # picture: the alert keeps showing the last one that has.
            alert.snapshot_event_id = event_id
        return alert

    def _fold(self, alert: Alert, at: datetime, score: float, event_id: str, severity: str) -> None:
        alert.count += 1
        alert.active_events += 1
        alert.active = True
        alert.cleared_at = None
        alert.last_at = max(alert.last_at, at)
        alert.score = max(alert.score, score)
        alert.last_event_id = event_id
        raise_severity(alert, severity)
        self.session.add(alert)
        self._touch(alert, "repeated")

    def _open_new(
        self,
        station_id: str,
        kind: str,
        zone: str,
        at: datetime,
        score: float,
        event_id: str,
        severity: str,
    ) -> Alert:
        alert = Alert(
            station_id=station_id,
            kind=kind,
            zone=zone,
            severity=severity,
            first_at=at,
            last_at=at,
            score=score,
            active_events=1,
            last_event_id=event_id,
            suppressed=self._station_offline(station_id, kind),
        )
        self.session.add(alert)
        self.session.flush()
        self._open[(station_id, kind, zone)] = alert
        alert_id = self._touch(alert, "opened")
        self.session.add(AlertAction(alert_id=alert_id, action="opened", actor=SYSTEM_ACTOR))
        if not alert.suppressed and pages_anyone(severity):
            self.opened.append(alert_id)
        return alert

    def _reopen(self, station_id: str, kind: str, zone: str, at: datetime) -> Alert | None:
        """Bring back an alert resolved within the window, rather than start a new one."""
        alert = self.session.exec(
            select(Alert)
            .where(
                Alert.station_id == station_id,
                Alert.kind == kind,
                Alert.zone == zone,
                col(Alert.resolved_at) >= at - self.reopen_window,
            )
            .order_by(col(Alert.resolved_at).desc())
            .with_for_update()
        ).first()
        if alert is None:
            return None
        alert.status = AlertStatus.OPEN
        alert.acknowledged_by = alert.acknowledged_at = None
        alert.resolved_by = alert.resolved_at = None
        alert.reopened += 1
        alert.active_events = 0
        alert.escalation_level = alert.paged_steps = 0
        alert.next_step_at = None
        alert.escalation_policy = None  # escalation starts over
        self._open[(station_id, kind, zone)] = alert
        assert alert.id is not None
        self.session.add(AlertAction(alert_id=alert.id, action="reopened", actor=SYSTEM_ACTOR))
        self._touch(alert, "reopened")
        if not alert.suppressed and pages_anyone(alert.severity):
            self.opened.append(alert.id)
        return alert

    def _station_offline(self, station_id: str, kind: str) -> bool:
        if kind in NEVER_SUPPRESSED:
            return False
        offline = self.session.exec(
            select(Alert.id).where(
                Alert.station_id == station_id,
                Alert.kind == STATION_OFFLINE,
                col(Alert.active),
                col(Alert.status) != AlertStatus.RESOLVED,
            )
        ).first()
        return offline is not None

    def raise_severity(self, alert: Alert, severity: str) -> None:
        """A later event of the alert is more urgent: raise it and put that on the feed."""
        before = alert.severity
        raise_severity(alert, severity)
        if alert.severity != before:
            self.session.add(alert)
            self._touch(alert, "severity")

    def clear(self, alert: Alert, at: datetime) -> None:
        """One occurrence ended; the alert clears when none is left, staying unacknowledged."""
        alert.active_events = max(0, alert.active_events - 1)
        if alert.active_events == 0 and alert.active:
            alert.active = False
            alert.cleared_at = at
            self._touch(alert, "cleared")
        self.session.add(alert)

    def _touch(self, alert: Alert, change: str) -> int:
        assert alert.id is not None
        # "opened" wins over later changes in the same batch so the feed says it is new.
        if self._touched.get(alert.id) != "opened":
            self._touched[alert.id] = change
        return alert.id


def apply_event(
    book: AlertBook, station_id: str, event: Event, existing: EventRecord | None
) -> EventRecord:
    """Fold one event message into the event table and its alert; replays change nothing."""
    if existing is None:
        return _first_seen(book, station_id, event)
    if existing.ended_at is not None:
        return existing
    if event.phase is not EventPhase.END and event.seq <= existing.last_seq:
        return existing
    existing.last_seq = max(existing.last_seq, event.seq)
    existing.score = max(existing.score, event.score)
    existing.count = event.count
    existing.updated_at = max(existing.updated_at, event.ts)
    folded = book.session.get(Alert, existing.alert_id) if existing.alert_id else None
    if folded is not None and event.severity is not None:
        book.raise_severity(folded, event.severity.value)
    if event.phase is EventPhase.END:
        existing.ended_at = event.ts
        if folded is not None:
            book.clear(folded, event.ts)
    book.session.add(existing)
    return existing


def _first_seen(book: AlertBook, station_id: str, event: Event) -> EventRecord:
    """Start the event's record and raise (or fold into) its alert; presence raises none."""
    if event.phase is not EventPhase.NEW:
        # The new message was lost or refused; start the record from what we have.
        logger.info("event %s first seen at phase %s", event.event_id, event.phase.value)
    kind = event.kind.value
    alert = None
    if kind not in OCCUPANCY_KINDS:
        alert = book.raise_alert(
            station_id,
            kind,
            alert_zone(kind, event.zone),
            event.started_at,
            event.score,
            event.event_id,
            event_severity(kind, event.severity),
            has_snapshot=event.has_snapshot,
        )
    record = EventRecord(
        id=event.event_id,
        node_id=event.node_id,
        station_id=station_id,
        camera_id=event.source_id,
        kind=kind,
        zone=event.zone,
        score=event.score,
        count=event.count,
        last_seq=event.seq,
        started_at=event.started_at,
        updated_at=event.ts,
        alert_id=alert.id if alert is not None else None,
        snapshot_withheld=event.snapshot_withheld,
        boxes=[box.model_dump(mode="json") for box in event.boxes] or None,
    )
    book.session.add(record)
    if event.phase is EventPhase.END:
        record.ended_at = event.ts
        if alert is not None:
            book.clear(alert, event.ts)
    return record


def set_verdict(
    session: Session, alert_id: int, actor: str, verdict: Verdict, note: str, now: datetime
) -> Alert:
    """Record a person's judgement: confirmed, or a false alarm kept as labelled data."""
    alert = _get(session, alert_id)
    alert.verdict = verdict
    alert.verdict_by = actor
    alert.verdict_at = now
    session.add(alert)
    record_change(session, alert, f"verdict:{verdict.value}", actor, note)
    return alert


def snooze(
    session: Session, alert_id: int, actor: str, minutes: int, note: str, now: datetime
) -> Alert:
    """Hold escalation and notices back until the snooze runs out."""
    alert = _get(session, alert_id)
    if alert.status is AlertStatus.RESOLVED:
        raise AlertTransitionError(f"alert {alert_id} is resolved")
    alert.snoozed_until = now + timedelta(minutes=minutes)
    session.add(alert)
    record_change(session, alert, "snoozed", actor, note or f"{minutes} min")
    return alert


def acknowledge(session: Session, alert_id: int, actor: str, note: str, now: datetime) -> Alert:
    """Mark that a person has seen the alert and is on it."""
    alert = _get(session, alert_id)
    if alert.status is not AlertStatus.OPEN:
        raise AlertTransitionError(f"alert {alert_id} is {alert.status.value}, not open")
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = actor
    alert.acknowledged_at = now
    session.add(alert)
    record_change(session, alert, "acknowledged", actor, note)
    return alert


def resolve(session: Session, alert_id: int, actor: str, note: str, now: datetime) -> Alert:
    """Close the alert; the next occurrence of its key opens a new one."""
    alert = _get(session, alert_id)
    if alert.status is AlertStatus.RESOLVED:
        raise AlertTransitionError(f"alert {alert_id} is already resolved")
    alert.status = AlertStatus.RESOLVED
    alert.resolved_by = actor
    alert.resolved_at = now
    session.add(alert)
    record_change(session, alert, "resolved", actor, note)
    return alert


def _get(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return alert
