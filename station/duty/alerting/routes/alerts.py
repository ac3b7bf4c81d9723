"""Alerts: list, act on, and follow live; each caller sees only their stations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sqlmodel import Session, col, select
from sse_starlette import EventSourceResponse

from station.duty.alerting import alerts
from station.duty.alerting.live_feed import alert_stream
from station.duty.alerting.models import (
    Alert,
    AlertAction,
    AlertActionCreate,
    AlertActionPublic,
    AlertPublic,
    AlertStatus,
    SnoozeCreate,
    VerdictCreate,
)
from station.duty.api.access import Caller, StaffDep
from station.duty.listing import Page, PagingDep, filtered, in_window, paginate
from station.duty.people.audit import audit
from station.duty.services import NowDep, RowId, Services, ServicesDep, SessionDep

router = APIRouter(tags=["alerts"])


@router.get("/alerts")
def list_alerts(
    session: SessionDep,
    paging: PagingDep,
    who: StaffDep,
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
    query = who.scoped(in_window(query, col(Alert.first_at), since, None), col(Alert.station_id))
    return paginate(session, query, AlertPublic, paging.limit, paging.offset)


@router.get("/alerts/feed")
async def alert_feed(
    request: Request,
    services: ServicesDep,
    who: StaffDep,
    last_event_id: Annotated[int | None, Header(description="Resume after this entry.")] = None,
) -> EventSourceResponse:
    """Stream alert changes as Server-Sent Events (resumable with Last-Event-ID)."""
    stream = alert_stream(
        services.engine,
        services.hub,
        last_event_id,
        services.settings.feed_poll_s,
        request.is_disconnected,
        who.can_see,
    )
    return EventSourceResponse(stream, ping=15)


@router.get("/alerts/{alert_id}")
def get_alert(session: SessionDep, who: StaffDep, alert_id: RowId) -> AlertPublic:
    """Return one alert."""
    return AlertPublic.model_validate(_visible(session, who, alert_id, "read alert"))


@router.get("/alerts/{alert_id}/actions")
def list_alert_actions(
    session: SessionDep, who: StaffDep, alert_id: RowId
) -> list[AlertActionPublic]:
    """Return the alert's trail: who did what, and when."""
    _visible(session, who, alert_id, "read alert")
    rows = session.exec(
        select(AlertAction).where(AlertAction.alert_id == alert_id).order_by(col(AlertAction.id))
    ).all()
    return [AlertActionPublic.model_validate(r) for r in rows]


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge_alert(
    services: ServicesDep,
    session: SessionDep,
    who: StaffDep,
    now: NowDep,
    alert_id: RowId,
    body: AlertActionCreate,
) -> AlertPublic:
    """Acknowledge an open alert: escalation stops."""
    act = lambda s, i, a, n: alerts.acknowledge(s, i, a, n, now)  # noqa: E731
    return _act(services, session, who, alert_id, "acknowledge", act, body.note)


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(
    services: ServicesDep,
    session: SessionDep,
    who: StaffDep,
    now: NowDep,
    alert_id: RowId,
    body: AlertActionCreate,
) -> AlertPublic:
    """Resolve an alert."""
    act = lambda s, i, a, n: alerts.resolve(s, i, a, n, now)  # noqa: E731
    return _act(services, session, who, alert_id, "resolve", act, body.note)


@router.post("/alerts/{alert_id}/verdict")
def alert_verdict(
    services: ServicesDep,
    session: SessionDep,
    who: StaffDep,
    now: NowDep,
    alert_id: RowId,
    body: VerdictCreate,
) -> AlertPublic:
    """Record whether the alert was real (confirmed) or a false alarm."""
    act = lambda s, i, a, n: alerts.set_verdict(s, i, a, body.verdict, n, now)  # noqa: E731
    return _act(services, session, who, alert_id, f"verdict:{body.verdict.value}", act, body.note)


@router.post("/alerts/{alert_id}/snooze")
def snooze_alert(
    services: ServicesDep,
    session: SessionDep,
    who: StaffDep,
    now: NowDep,
    alert_id: RowId,
    body: SnoozeCreate,
) -> AlertPublic:
    """Hold notices and escalation back for a while."""
    act = lambda s, i, a, n: alerts.snooze(s, i, a, body.minutes, n, now)  # noqa: E731
    return _act(services, session, who, alert_id, "snooze", act, body.note)


AlertAct = Callable[[Session, int, str, str], Alert]


def _visible(session: Session, who: Caller, alert_id: int, action: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise alerts.AlertNotFoundError(f"no alert {alert_id}")
    who.check_scope(action, f"alert {alert_id}", alert.station_id)
    return alert


def _act(
    services: Services,
    session: Session,
    who: Caller,
    alert_id: int,
    action: str,
    act: AlertAct,
    note: str,
) -> AlertPublic:
    _visible(session, who, alert_id, action)
    alert = act(session, alert_id, who.name, note)
    audit(session, who, action, f"alert {alert_id}", alert.station_id, note)
    session.commit()
    services.hub.notify()
    return AlertPublic.model_validate(alert)
