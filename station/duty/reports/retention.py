"""Retention: what cloud-duty keeps, and for how long.

- snapshots: deleted after `snapshot_days`;
- visits: stripped of who visited after `visit_days` (counts stay for the statistics);
- records: resolved alerts with their actions, events, live-feed entries, delivery attempts
  and remote-command records, after `record_days`;
- the audit log: after its own, longer `audit_days` (it must outlive what it speaks of; on
  PostgreSQL its append-only trigger refuses to delete any line younger than a year).

One replica at a time runs it (an advisory lock on PostgreSQL); each part is one statement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, or_, text, update
from sqlmodel import Session, col, select

from station.duty.alerting.models import (
    Alert,
    AlertAction,
    AlertStatus,
    Delivery,
    EventRecord,
    FeedEntry,
)
from station.duty.alerting.snapshots import SnapshotStorage
from station.duty.fleet.models import CommandRecord
from station.duty.people.models import AuditEntry, VisitRecord

logger = logging.getLogger(__name__)

_RETENTION_LOCK = 0x55575303


@dataclass(frozen=True)
class RetentionPolicy:
    """How many days each kind of record is kept."""

    snapshot_days: float
    visit_days: float
    record_days: float
    audit_days: float

    def __post_init__(self) -> None:
        if min(self.snapshot_days, self.visit_days, self.record_days, self.audit_days) <= 0:
            raise ValueError("retention periods must be positive")
        if self.audit_days < max(self.record_days, self.visit_days):
            raise ValueError("the audit log must be kept at least as long as what it records")


@dataclass(frozen=True)
class RetentionReport:
    """What one run deleted or anonymised."""

    snapshots: int = 0
    visits: int = 0
    alerts: int = 0
    events: int = 0
    feed_entries: int = 0
    deliveries: int = 0
    commands: int = 0
    audit: int = 0


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _purge_records(session: Session, cutoff: datetime) -> dict[str, int]:
    """Delete resolved alerts (and what hangs off them) and other records before `cutoff`."""
    old = (
        select(Alert.id)
        .where(col(Alert.status) == AlertStatus.RESOLVED, col(Alert.resolved_at) < cutoff)
        .scalar_subquery()
    )
    feed = or_(col(FeedEntry.at) < cutoff, col(FeedEntry.alert_id).in_(old))
    deliveries = or_(col(Delivery.at) < cutoff, col(Delivery.alert_id).in_(old))
    unalerted = col(EventRecord.alert_id).is_(None) & (col(EventRecord.updated_at) < cutoff)
    events = or_(col(EventRecord.alert_id).in_(old), unalerted)
    counts = {
        "feed_entries": _count(session.execute(delete(FeedEntry).where(feed))),
        "deliveries": _count(session.execute(delete(Delivery).where(deliveries))),
        "events": _count(session.execute(delete(EventRecord).where(events))),
        "commands": _count(
            session.execute(delete(CommandRecord).where(col(CommandRecord.issued_at) < cutoff))
        ),
    }
    session.execute(delete(AlertAction).where(col(AlertAction.alert_id).in_(old)))
    counts["alerts"] = _count(session.execute(delete(Alert).where(col(Alert.id).in_(old))))
    return counts


def run_retention(
    engine: Engine, snapshots: SnapshotStorage, now: datetime, policy: RetentionPolicy
) -> RetentionReport:
    """Apply every retention period; return what went."""
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            locked = session.execute(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RETENTION_LOCK}
            ).scalar()
            if not locked:
                return RetentionReport()
        # Counts per hour and method stay for the statistics; the member id goes.
        visits = _count(
            session.execute(
                update(VisitRecord)
                .where(
                    col(VisitRecord.entered_at) < now - timedelta(days=policy.visit_days),
                    col(VisitRecord.member_id).is_not(None),
                )
                .values(member_id=None)
            )
        )
        counts = _purge_records(session, now - timedelta(days=policy.record_days))
        if engine.dialect.name == "postgresql":
            # The append-only trigger lets this transaction, and only for lines over a year
            # old, delete from the audit log.
            session.execute(text("SET LOCAL uws.retention = 'on'"))
        audit = _count(
            session.execute(
                delete(AuditEntry).where(
                    col(AuditEntry.at) < now - timedelta(days=policy.audit_days)
                )
            )
        )
        session.commit()
    report = RetentionReport(
        snapshots=snapshots.purge(timedelta(days=policy.snapshot_days)),
        visits=visits,
        audit=audit,
        **counts,
    )
    if report != RetentionReport():
        logger.info("retention: %s", report)
    return report
