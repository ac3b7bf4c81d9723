"""Events and visits, as recorded from the nodes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import FileResponse
from sqlmodel import col, select

from station.duty.api.deps import PagingDep, PrincipalDep, SessionDep, check_scope, scoped, state
from station.duty.audit import audit
from station.duty.listing import filtered, in_window, paginate
from station.duty.models import EventPublic, EventRecord, Page, VisitPublic, VisitRecord

router = APIRouter(tags=["records"])

Since = Annotated[datetime | None, Query(description="From this time (inclusive).")]
Until = Annotated[datetime | None, Query(description="Before this time.")]


@router.get("/events")
def list_events(
    session: SessionDep,
    paging: PagingDep,
    who: PrincipalDep,
    station_id: str | None = None,
    node_id: str | None = None,
    kind: str | None = None,
    since: Since = None,
    until: Until = None,
) -> Page[EventPublic]:
    """List detection events, newest first."""
    query = select(EventRecord).order_by(col(EventRecord.started_at).desc())
    query = filtered(query, EventRecord, station_id=station_id, node_id=node_id, kind=kind)
    query = in_window(query, col(EventRecord.started_at), since, until)
    query = scoped(query, col(EventRecord.station_id), who)
    return paginate(session, query, EventPublic, paging.limit, paging.offset)


@router.get("/events/{event_id}/snapshot", response_class=FileResponse)
def event_snapshot(
    request: Request, session: SessionDep, who: PrincipalDep, event_id: str
) -> FileResponse:
    """The event's snapshot (faces blurred on the node), as JPEG."""
    record = session.get(EventRecord, event_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event {event_id}")
    check_scope(request, who, "read snapshot", f"event {event_id}", record.station_id)
    path = state(request, "snapshots").path(record.node_id, record.id)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"event {event_id} has no snapshot")
    return FileResponse(path, media_type="image/jpeg")


@router.get("/visits")
def list_visits(
    session: SessionDep,
    paging: PagingDep,
    who: PrincipalDep,
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
        scoped(query, col(VisitRecord.station_id), who),
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
