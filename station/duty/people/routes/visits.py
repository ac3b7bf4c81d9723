"""Visits as recorded from the nodes: a read of personal data, so every listing is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from station.duty.api.access import StaffDep
from station.duty.listing import Page, PagingDep, filtered, in_window, paginate
from station.duty.people.audit import audit
from station.duty.people.models import VisitPublic, VisitRecord
from station.duty.services import SessionDep

router = APIRouter(tags=["records"])

Since = Annotated[datetime | None, Query(description="From this time (inclusive).")]
Until = Annotated[datetime | None, Query(description="Before this time.")]


@router.get("/visits")
def list_visits(
    session: SessionDep,
    paging: PagingDep,
    who: StaffDep,
    station_id: str | None = None,
    member_id: str | None = None,
    method: str | None = None,
    since: Since = None,
    until: Until = None,
) -> Page[VisitPublic]:
    """List visits, newest first; a read of personal data, so it is audited."""
    query = select(VisitRecord).order_by(col(VisitRecord.entered_at).desc())
    query = filtered(query, VisitRecord, station_id=station_id, member_id=member_id, method=method)
    query = in_window(query, col(VisitRecord.entered_at), since, until)
    page = paginate(
        session,
        who.scoped(query, col(VisitRecord.station_id)),
        VisitPublic,
        paging.limit,
        paging.offset,
    )
    audit(
        session,
        who,
        "read visits",
        f"member {member_id or '*'}",
        station_id,
        f"{len(page.items)} rows",
    )
    session.commit()
    return page
