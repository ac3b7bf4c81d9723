"""Visit records from nodes: an entry, later completed by its exit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from station.contracts import Visit
from station.duty.people.models import VisitRecord


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


class Occupancy(BaseModel):
    """Who is in a station now and how long visits last."""

    station_id: str
    inside: int = Field(description="Visits with an entry and no exit yet.")
    visits_since: int = Field(description="Visits that started in the window.")
    mean_dwell_s: float | None = Field(description="Mean stay of visits ended in the window.")
    max_dwell_s: float | None = Field(description="Longest stay ended in the window.")


def occupancy(session: Session, station_id: str, since: datetime) -> Occupancy:
    """Return the occupancy now and the dwell time of visits since `since`."""
    open_count = session.exec(
        select(func.count())
        .select_from(VisitRecord)
        .where(VisitRecord.station_id == station_id, col(VisitRecord.exited_at).is_(None))
    ).one()
    rows = session.exec(
        select(VisitRecord.entered_at, VisitRecord.exited_at).where(
            VisitRecord.station_id == station_id, VisitRecord.entered_at >= since
        )
    ).all()
    stays = [(exit_ - enter).total_seconds() for enter, exit_ in rows if exit_ is not None]
    return Occupancy(
        station_id=station_id,
        inside=int(open_count),
        visits_since=len(rows),
        mean_dwell_s=sum(stays) / len(stays) if stays else None,
        max_dwell_s=max(stays) if stays else None,
    )
