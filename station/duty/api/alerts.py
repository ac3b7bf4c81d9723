"""Alerts: list, act on, and follow live."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from sqlmodel import Session, col, select
from sse_starlette import EventSourceResponse

from station.duty import alerts
from station.duty.api.deps import NowDep, PagingDep, SessionDep, conflict, not_found, state
from station.duty.feed import alert_stream
from station.duty.listing import filtered, in_window, paginate
from station.duty.models import (
    Alert,
    AlertAction,
    AlertActionCreate,
    AlertActionPublic,
    AlertPublic,
    AlertStatus,
    Page,
)

router = APIRouter(tags=["alerts"])


@router.get("/alerts")
def list_alerts(
    session: SessionDep,
    paging: PagingDep,
    station_id: str | None = None,
    kind: str | None = None,
    alert_status: Annotated[AlertStatus | None, Query(alias="status")] = None,
    active: bool | None = None,
    since: Annotated[datetime | None, Query(description="First seen from this time.")] = None,
) -> Page[AlertPublic]:
    """List alerts, newest first."""
    query = select(Alert).order_by(col(Alert.last_at).desc(), col(Alert.id).desc())
    query = filtered(
        query, Alert, station_id=station_id, kind=kind, status=alert_status, active=active
    )
    query = in_window(query, col(Alert.first_at), since, None)
    return paginate(session, query, AlertPublic, paging.limit, paging.offset)


@router.get("/alerts/feed")
async def alert_feed(
    request: Request,
    last_event_id: Annotated[int | None, Header(description="Resume after this entry.")] = None,
) -> EventSourceResponse:
    """Stream alert changes as Server-Sent Events (resumable with Last-Event-ID)."""
    stream = alert_stream(
        state(request, "engine"),
        state(request, "hub"),
        last_event_id,
        state(request, "settings").feed_poll_s,
        request.is_disconnected,
    )
    return EventSourceResponse(stream, ping=15)


@router.get("/alerts/{alert_id}")
def get_alert(session: SessionDep, alert_id: int) -> AlertPublic:
    """Return one alert."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return AlertPublic.model_validate(alert)


@router.get("/alerts/{alert_id}/actions")
def list_alert_actions(session: SessionDep, alert_id: int) -> list[AlertActionPublic]:
    """Return the alert's trail: who did what, and when."""
    rows = session.exec(
        select(AlertAction).where(AlertAction.alert_id == alert_id).order_by(col(AlertAction.id))
    ).all()
    return [AlertActionPublic.model_validate(r) for r in rows]


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    request: Request, session: SessionDep, now: NowDep, alert_id: int, body: AlertActionCreate
) -> AlertPublic:
    """Acknowledge an open alert."""
    return _act(request, session, alerts.acknowledge, alert_id, body, now)


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(
    request: Request, session: SessionDep, now: NowDep, alert_id: int, body: AlertActionCreate
) -> AlertPublic:
    """Resolve an alert."""
    return _act(request, session, alerts.resolve, alert_id, body, now)


AlertAct = Callable[[Session, int, str, str, datetime], Alert]


def _act(
    request: Request,
    session: Session,
    action: AlertAct,
    alert_id: int,
    body: AlertActionCreate,
    now: datetime,
) -> AlertPublic:
    try:
        alert = action(session, alert_id, body.actor, body.note, now)
    except alerts.AlertNotFoundError as err:
        raise not_found(err) from err
    except alerts.AlertTransitionError as err:
        raise conflict(err) from err
    session.commit()
    state(request, "hub").notify()
    return AlertPublic.model_validate(alert)
