"""Retention: snapshots deleted, and visits stripped of who visited, after set periods."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, text, update
from sqlmodel import Session, col

from station.duty.alerting.snapshots import SnapshotStorage
from station.duty.people.models import VisitRecord

logger = logging.getLogger(__name__)

_RETENTION_LOCK = 0x55575303


def run_retention(
    engine: Engine,
    snapshots: SnapshotStorage,
    now: datetime,
    snapshot_days: float,
    visit_days: float,
) -> tuple[int, int]:
    """Apply both retentions; return (snapshots deleted, visits anonymised)."""
    with Session(engine) as session:
        if engine.dialect.name == "postgresql":
            locked = session.execute(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _RETENTION_LOCK}
            ).scalar()
            if not locked:
                return 0, 0
        # Counts per hour and method stay for the statistics; the member id goes.
        result = session.execute(
            update(VisitRecord)
            .where(
                col(VisitRecord.entered_at) < now - timedelta(days=visit_days),
                col(VisitRecord.member_id).is_not(None),
            )
            .values(member_id=None)
        )
        session.commit()
    visits = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if visits:
        logger.info("retention: anonymised %d visit(s)", visits)
    return snapshots.purge(timedelta(days=snapshot_days)), visits
