"""Visit records from nodes: an entry, later completed by its exit."""

from __future__ import annotations

from sqlmodel import Session

from station.contracts import Visit
from station.duty.models import VisitRecord


def apply_visit(session: Session, station_id: str, visit: Visit) -> None:
    """Insert the visit, or complete it with its exit; a replay changes nothing."""
    record = session.get(VisitRecord, visit.visit_id)
    if record is None:
        session.add(
            VisitRecord(
                id=visit.visit_id,
                node_id=visit.node_id,
                station_id=station_id,
                member_id=visit.member_id,
                method=visit.method.value,
                entered_at=visit.entered_at,
                exited_at=visit.exited_at,
            )
        )
    elif record.exited_at is None and visit.exited_at is not None:
        record.exited_at = visit.exited_at
        session.add(record)
