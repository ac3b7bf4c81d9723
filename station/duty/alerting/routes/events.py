"""Hazard events as recorded from the nodes, and their snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlmodel import col, select

from station.duty.alerting.models import EventPublic, EventRecord
from station.duty.api.access import STAFF, Caller, StaffDep, allow
from station.duty.errors import NotFoundError
from station.duty.listing import Page, PagingDep, filtered, in_window, paginate
from station.duty.people.audit import audit
from station.duty.people.models import Role
from station.duty.services import ServicesDep, SessionDep

router = APIRouter(tags=["records"])

Since = Annotated[datetime | None, Query(description="From this time (inclusive).")]
Until = Annotated[datetime | None, Query(description="Before this time.")]


@router.get("/events")
def list_events(
    session: SessionDep,
    paging: PagingDep,
    who: StaffDep,
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
    query = who.scoped(query, col(EventRecord.station_id))
    return paginate(session, query, EventPublic, paging.limit, paging.offset)


@router.get("/events/{event_id}/snapshot", response_class=Response)
def event_snapshot(
    services: ServicesDep,
    session: SessionDep,
    who: Annotated[Caller, allow(*STAFF, Role.NODE)],
    event_id: str,
) -> Response:
    """The event's snapshot (faces blurred on the node), as JPEG; a node reads its own
    station's only. Every read is audited."""
    record = session.get(EventRecord, event_id)
    if record is None:
        raise NotFoundError(f"no event {event_id}")
    who.check_scope("read snapshot", f"event {event_id}", record.station_id)
    jpeg = services.snapshots.load(record.node_id, record.id)
    if jpeg is None:
        raise NotFoundError(f"event {event_id} has no snapshot")
    audit(session, who, "read snapshot", f"event {event_id}", record.station_id)
    session.commit()
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private"})
