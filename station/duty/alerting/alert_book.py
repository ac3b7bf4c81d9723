"""The alert book: one transaction's view of the open alerts that events fold into.

Events fold into one alert per station + kind + zone. A batch reads and locks all its keys
in a few queries, in one fixed order, so an alert storm or a fleet coming back online costs
a handful of round trips rather than a few per message, and replicas never deadlock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import tuple_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from station.contracts import Event, EventPhase
from station.duty.alerting.alerts import (
    DEFAULT_REOPEN_WINDOW,
    NEVER_SUPPRESSED,
    OCCUPANCY_KINDS,
    SEVERITY_BY_KIND,
    STATION_OFFLINE,
    SYSTEM_ACTOR,
    alert_zone,
    event_severity,
    pages_anyone,
    post_to_feed,
    raise_severity,
)
from station.duty.alerting.models import Alert, AlertAction, AlertStatus, EventRecord

logger = logging.getLogger(__name__)

AlertKey = tuple[str, str, str]
"""(station, kind, zone): an alert's identity while it is unresolved."""
_KEYS_PER_QUERY = 500  # bounds the statement's parameters


def _key(alert: Alert) -> AlertKey:
    return (alert.station_id, alert.kind, alert.zone)


def _resolved_at(alert: Alert) -> datetime:
    assert alert.resolved_at is not None
    return alert.resolved_at


def _chunks(keys: Sequence[AlertKey]) -> Iterator[Sequence[AlertKey]]:
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        yield keys[start : start + _KEYS_PER_QUERY]


def _keyed(keys: Sequence[AlertKey]) -> SelectOfScalar[Alert]:
    """Alerts of these keys, in key order: rows are locked in the order they are read."""
    key = tuple_(col(Alert.station_id), col(Alert.kind), col(Alert.zone))
    order = (col(Alert.station_id), col(Alert.kind), col(Alert.zone), col(Alert.id))
    return select(Alert).where(key.in_(list(keys))).order_by(*order)


@dataclass
class AlertBook:
    """Open alerts by key for one transaction: each key is read once, and a burst of
    repeats of one alert reaches the feed as one entry."""

    session: Session
    reopen_window: timedelta = DEFAULT_REOPEN_WINDOW
    opened: list[int] = field(default_factory=list, init=False)
    _open: dict[AlertKey, Alert | None] = field(default_factory=dict)
    # Per key not open: its latest alert resolved since the time given, as read by lock().
    _resolved: dict[AlertKey, tuple[Alert | None, datetime]] = field(default_factory=dict)
    _touched: dict[int, str] = field(default_factory=dict)

    def post(self) -> None:
        """Put the alerts this batch changed on the feed, once each."""
        post_to_feed(self.session, self._touched)
        self._touched.clear()

    def open_alert(self, station_id: str, kind: str, zone: str) -> Alert | None:
        """Return the unresolved alert for the key, if any, locked until commit."""
        key = (station_id, kind, zone)
        if key not in self._open:
            self.lock({key})
        return self._open[key]

    def lock(self, keys: set[AlertKey], reopen_from: datetime | None = None) -> None:
        """Read and lock the open alerts of these keys in one fixed order, so replicas never
        deadlock; with `reopen_from` (the earliest event that may raise one), also the
        alerts of the other keys resolved late enough to be reopened."""
        missing = sorted(k for k in keys if k not in self._open)
        for chunk in _chunks(missing):
            # FOR UPDATE: two replicas folding into one alert must not lose a count.
            unresolved = _keyed(chunk).where(col(Alert.status) != AlertStatus.RESOLVED)
            found = {_key(a): a for a in self.session.exec(unresolved.with_for_update())}
            self._open.update({k: found.get(k) for k in chunk})
        if reopen_from is not None:
            self._read_resolved(keys, reopen_from - self.reopen_window)

    def _read_resolved(self, keys: set[AlertKey], since: datetime) -> None:
        closed = sorted(k for k in keys if self._open[k] is None and k not in self._resolved)
        for chunk in _chunks(closed):
            recent = _keyed(chunk).where(col(Alert.resolved_at) >= since)
            latest: dict[AlertKey, Alert] = {}
            for alert in self.session.exec(recent.with_for_update()):
                held = latest.get(_key(alert))
                if held is None or _resolved_at(alert) > _resolved_at(held):
                    latest[_key(alert)] = alert
            self._resolved.update({k: (latest.get(k), since) for k in chunk})

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

    def open_all(self, firsts: dict[AlertKey, tuple[datetime, str]]) -> None:
        """Open, in one statement, the alerts the first events of these keys will fold into
        (key -> the first event's time and severity); reopen the recently resolved ones."""
        fresh = []
        for key, (at, severity) in firsts.items():
            if self.open_alert(*key) is None and self._reopen(*key, at) is None:
                # Empty until its first event folds in, as a reopened alert is.
                alert = self._new_alert(key, at, severity, count=0)
                self._open[key] = alert
                fresh.append(alert)
        if fresh:
            self.session.add_all(fresh)
            self.session.flush()  # one INSERT ... RETURNING for all of them
            for alert in fresh:
                self._opened(alert)

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
        alert = self._new_alert((station_id, kind, zone), at, severity, count=1)
        alert.active_events, alert.score, alert.last_event_id = 1, score, event_id
        self.session.add(alert)
        self.session.flush()
        self._open[(station_id, kind, zone)] = alert
        self._opened(alert)
        return alert

    def _new_alert(self, key: AlertKey, at: datetime, severity: str, count: int) -> Alert:
        station_id, kind, zone = key
        return Alert(
            station_id=station_id,
            kind=kind,
            zone=zone,
            severity=severity,
            first_at=at,
            last_at=at,
            score=0.0,
            count=count,
            active_events=0,
            suppressed=self._station_offline(station_id, kind),
        )

    def _opened(self, alert: Alert) -> None:
        alert_id = self._touch(alert, "opened")
        self.session.add(AlertAction(alert_id=alert_id, action="opened", actor=SYSTEM_ACTOR))
        if not alert.suppressed and pages_anyone(alert.severity):
            self.opened.append(alert_id)

    def _reopen(self, station_id: str, kind: str, zone: str, at: datetime) -> Alert | None:
        """Bring back an alert resolved within the window, rather than start a new one."""
        alert = self._resolved_within((station_id, kind, zone), at - self.reopen_window)
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

    def _resolved_within(self, key: AlertKey, since: datetime) -> Alert | None:
        """The key's latest alert if it was resolved at or after `since`."""
        read = self._resolved.pop(key, None)
        if read is None or read[1] > since:
            # Not read by lock(), or read from too late a time: ask the database.
            return self.session.exec(
                _keyed([key])
                .where(col(Alert.resolved_at) >= since)
                .order_by(None)
                .order_by(col(Alert.resolved_at).desc())
                .with_for_update()
            ).first()
        latest = read[0]
        return latest if latest is not None and _resolved_at(latest) >= since else None

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
