"""Alert lifecycle: events fold into one alert per station + kind + zone; staff act on it.

Presence is occupancy, not an incident: it is kept as an event record and never raises an
alert. Fire and smoke are the station's, whichever camera or rule reported them: one alert.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from station.contracts import EventSeverity
from station.duty.alerting.models import (
    Alert,
    AlertAction,
    AlertStatus,
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
