"""The overview map: every visible station's state now, in five grouped queries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from station.duty.alerting.models import Alert, AlertStatus
from station.duty.fleet.models import Node, NodeState, Station
from station.duty.people.models import VisitRecord
from station.duty.reports.dialect import visible_stations
from station.duty.reports.figures import Overview, StationCondition, StationStatus


def _by_station(session: Session, query: Any) -> dict[str, int]:
    return {sid: int(n) for sid, n in session.exec(query).all()}


def overview(
    session: Session, station_ids: Iterable[str] | None, now: datetime, tz: ZoneInfo
) -> Overview:
    """The state of every visible station now: five grouped queries, whatever the size."""
    stations = visible_stations(session, station_ids)
    ids = [s.id for s in stations]
    midnight = datetime.combine(now.astimezone(tz).date(), time(), tz)
    sid = col(VisitRecord.station_id)
    alerts = _by_station(
        session,
        select(Alert.station_id, func.count())
        .where(col(Alert.station_id).in_(ids), Alert.status != AlertStatus.RESOLVED)
        .group_by(Alert.station_id),
    )
    offline = case((col(Node.state) == NodeState.ONLINE, 0), else_=1)
    nodes = {
        s: (int(total), int(down or 0))
        for s, total, down in session.exec(
            select(Node.station_id, func.count(), func.sum(offline))
            .where(col(Node.station_id).in_(ids))
            .group_by(Node.station_id)
        ).all()
    }
    inside = _by_station(
        session,
        select(sid, func.count())
        .where(sid.in_(ids), col(VisitRecord.exited_at).is_(None))
        .group_by(sid),
    )
    today = _by_station(
        session,
        select(sid, func.count())
        .where(sid.in_(ids), col(VisitRecord.entered_at) >= midnight)
        .group_by(sid),
    )
    rows = [_status(s, alerts, nodes, inside, today) for s in stations]
    return Overview(generated_at=now, stations=rows)


def _status(
    station: Station,
    alerts: dict[str, int],
    nodes: dict[str, tuple[int, int]],
    inside: dict[str, int],
    today: dict[str, int],
) -> StationStatus:
    total, down = nodes.get(station.id, (0, 0))
    people = inside.get(station.id, 0)
    open_alerts = alerts.get(station.id, 0)
    state: StationCondition = "ok"
    if open_alerts:
        state = "alert"
    elif down:
        state = "offline"
    elif station.capacity and people >= station.capacity:
        state = "full"
    return StationStatus(
        station_id=station.id,
        name=station.name,
        region=station.region,
        latitude=station.latitude,
        longitude=station.longitude,
        capacity=station.capacity,
        open_alerts=open_alerts,
        nodes_total=total,
        nodes_offline=down,
        inside=people,
        visits_today=today.get(station.id, 0),
        state=state,
        time_zone=station.time_zone,
    )
