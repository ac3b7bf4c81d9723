"""Statistics for the managers' dashboard: every figure is a GROUP BY in SQL.

A year of visits for fifty stations is about a million rows, so nothing here loops over
visits in Python; only one station's single day (occupancy over the day) is read row by row.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import Integer, and_, case, cast, func, literal_column, or_
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnClause, ColumnElement
from sqlmodel import Session, col, select

from station.duty.models import Alert, AlertStatus, Member, Node, NodeState, Station, VisitRecord

DEFAULT_TZ = "Asia/Shanghai"
MAX_RANGE_DAYS = 400
DWELL_EDGES_MIN = (5, 15, 30, 60, 120)

# Group by position: an expression with bound parameters (the zone name) repeated in
# GROUP BY gets new parameters, and PostgreSQL then refuses it as a different expression.
_FIRST: ColumnClause[Any] = literal_column("1")
_SECOND: ColumnClause[Any] = literal_column("2")

StationState = Literal["alert", "offline", "full", "ok"]


class StatsError(ValueError):
    """A statistics request that cannot be answered as asked."""


class StationStatus(BaseModel):
    """One station on the overview map."""

    station_id: str
    name: str
    region: str
    latitude: float | None
    longitude: float | None
    capacity: int | None
    open_alerts: int = Field(description="Alerts not yet resolved.")
    nodes_total: int
    nodes_offline: int = Field(description="Nodes not online (offline or never seen).")
    inside: int = Field(description="Visits with an entry and no exit yet.")
    visits_today: int = Field(description="Visits that began since local midnight.")
    state: StationState = Field(description="The worst of: alert, offline, full, ok.")


class Overview(BaseModel):
    """Every station the caller may see, with its state now."""

    generated_at: datetime
    stations: list[StationStatus]


class Bucket(BaseModel):
    """A labelled count."""

    label: str
    count: int


class StationStats(BaseModel):
    """Visits, dwell, visitors and alerts of one station over a window."""

    station_id: str
    since: datetime
    until: datetime
    visits: int
    unique_members: int
    mean_dwell_s: float | None
    by_hour: list[int] = Field(description="Visits by local hour of entry, 0..23.")
    by_weekday: list[int] = Field(description="Visits by local weekday, Monday first.")
    dwell: list[Bucket] = Field(description="Finished visits by length of stay.")
    occupations: list[Bucket] = Field(description="Visits by the member's occupation.")
    methods: list[Bucket] = Field(description="Visits by entry method.")
    alerts_by_kind: list[Bucket]
    verdicts: list[Bucket] = Field(description="Alerts by staff verdict (none = not judged).")


class OccupancyPoint(BaseModel):
    """People inside at one moment."""

    at: datetime
    inside: int


class DailyRow(BaseModel):
    """One station's figures for one local day."""

    station_id: str
    day: date
    visits: int
    unique_members: int
    mean_dwell_s: float | None
    alerts: int


def zone(name: str) -> ZoneInfo:
    """Return the time zone, or raise StatsError for an unknown name."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as err:
        raise StatsError(f"unknown time zone {name!r}") from err


def check_window(since: datetime, until: datetime) -> None:
    """Refuse an empty, reversed or over-long window."""
    if since.tzinfo is None or until.tzinfo is None:
        raise StatsError("since and until need a UTC offset")
    if until <= since:
        raise StatsError("until must be after since")
    if until - since > timedelta(days=MAX_RANGE_DAYS):
        raise StatsError(f"a window is at most {MAX_RANGE_DAYS} days")


def _local(session: Session, column: Any, tz: ZoneInfo, at: datetime) -> Any:
    """The column as local wall-clock time, for hour/weekday/day grouping."""
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone(tz.key, column)
    offset = at.astimezone(tz).utcoffset() or timedelta()
    # SQLite has no zone database: a fixed offset, right for zones without DST (China).
    return func.datetime(column, f"{int(offset.total_seconds())} seconds")


def _hour(session: Session, local: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("hour", local), Integer)
    return cast(func.strftime("%H", local), Integer)


def _weekday(session: Session, local: Any) -> Any:
    """Monday 0 .. Sunday 6."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("isodow", local), Integer) - 1
    return (cast(func.strftime("%w", local), Integer) + 6) % 7


def _dwell_s(session: Session) -> ColumnElement[Any]:
    entered, exited = col(VisitRecord.entered_at), col(VisitRecord.exited_at)
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", exited - entered)
    return (func.julianday(exited) - func.julianday(entered)) * 86400.0


def _by_station(session: Session, query: Any) -> dict[str, int]:
    return {sid: int(n) for sid, n in session.exec(query).all()}


def _visible_stations(session: Session, station_ids: Iterable[str] | None) -> list[Station]:
    query = select(Station).order_by(col(Station.id))
    if station_ids is not None:
        query = query.where(col(Station.id).in_(sorted(station_ids)))
    return list(session.exec(query).all())


def overview(
    session: Session, station_ids: Iterable[str] | None, now: datetime, tz: ZoneInfo
) -> Overview:
    """The state of every visible station now: five grouped queries, whatever the size."""
    stations = _visible_stations(session, station_ids)
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
    state: StationState = "ok"
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
    )


def _buckets(rows: Iterable[tuple[Any, Any]], empty: str = "none") -> list[Bucket]:
    return [Bucket(label=str(label or empty), count=int(n)) for label, n in rows]


def station_stats(
    session: Session, station_id: str, since: datetime, until: datetime, tz: ZoneInfo
) -> StationStats:
    """Visits by hour and weekday, dwell, occupations and alerts of one station."""
    check_window(since, until)
    window = and_(
        col(VisitRecord.station_id) == station_id,
        col(VisitRecord.entered_at) >= since,
        col(VisitRecord.entered_at) < until,
    )
    local = _local(session, col(VisitRecord.entered_at), tz, until)
    dwell = _dwell_s(session)
    total, members, mean = session.exec(
        select(func.count(), func.count(func.distinct(VisitRecord.member_id)), func.avg(dwell))
        .select_from(VisitRecord)
        .where(window)
    ).one()
    by_hour = _spread(session, _hour(session, local), window, 24)
    by_weekday = _spread(session, _weekday(session, local), window, 7)
    return StationStats(
        station_id=station_id,
        since=since,
        until=until,
        visits=int(total),
        unique_members=int(members),
        mean_dwell_s=float(mean) if mean is not None else None,
        by_hour=by_hour,
        by_weekday=by_weekday,
        dwell=_dwell_buckets(session, window, dwell),
        occupations=_occupations(session, window),
        methods=_buckets(
            session.exec(
                select(VisitRecord.method, func.count()).where(window).group_by(VisitRecord.method)
            ).all()
        ),
        alerts_by_kind=_alert_buckets(session, station_id, since, until, col(Alert.kind)),
        verdicts=_alert_buckets(session, station_id, since, until, col(Alert.verdict)),
    )


def _spread(session: Session, part: Any, window: ColumnElement[bool], size: int) -> list[int]:
    """Visits counted by an integer part of the entry time (hour, weekday), zeros kept."""
    counts = [0] * size
    for key, n in session.exec(select(part, func.count()).where(window).group_by(_FIRST)).all():
        counts[int(key)] = int(n)
    return counts


def _dwell_buckets(
    session: Session, window: ColumnElement[bool], dwell: ColumnElement[Any]
) -> list[Bucket]:
    edges = [m * 60 for m in DWELL_EDGES_MIN]
    index = case(*[(dwell < edge, i) for i, edge in enumerate(edges)], else_=len(edges))
    finished = and_(window, col(VisitRecord.exited_at).is_not(None))
    counts = dict(session.exec(select(index, func.count()).where(finished).group_by(_FIRST)).all())
    labels = [f"< {DWELL_EDGES_MIN[0]} min"]
    labels += [f"{a}-{b} min" for a, b in itertools.pairwise(DWELL_EDGES_MIN)]
    labels.append(f">= {DWELL_EDGES_MIN[-1]} min")
    return [Bucket(label=label, count=int(counts.get(i, 0))) for i, label in enumerate(labels)]


def _occupations(session: Session, window: ColumnElement[bool]) -> list[Bucket]:
    occupation = func.coalesce(func.nullif(Member.occupation, ""), "not known")
    query = (
        select(occupation, func.count())
        .select_from(VisitRecord)
        .join(Member, col(Member.id) == col(VisitRecord.member_id), isouter=True)
        .where(window)
        .group_by(occupation)
        .order_by(func.count().desc())
    )
    return _buckets(session.exec(query).all())


def _alert_buckets(
    session: Session, station_id: str, since: datetime, until: datetime, column: Any
) -> list[Bucket]:
    query = (
        select(column, func.count())
        .where(
            Alert.station_id == station_id,
            col(Alert.first_at) >= since,
            col(Alert.first_at) < until,
        )
        .group_by(column)
        .order_by(func.count().desc())
    )
    return _buckets(session.exec(query).all())


def occupancy_curve(
    session: Session, station_id: str, start: datetime, end: datetime, step_min: int = 15
) -> list[OccupancyPoint]:
    """People inside every `step_min` minutes in [start, end] (at most a day of rows)."""
    if end - start > timedelta(days=2) or end <= start:
        raise StatsError("an occupancy curve covers up to two days")
    rows = session.exec(
        select(VisitRecord.entered_at, VisitRecord.exited_at).where(
            VisitRecord.station_id == station_id,
            col(VisitRecord.entered_at) < end,
            or_(col(VisitRecord.exited_at).is_(None), col(VisitRecord.exited_at) > start),
            # Stays are hours at most: older entries without exit are stale, not present.
            col(VisitRecord.entered_at) >= start - timedelta(days=1),
        )
    ).all()
    points: list[OccupancyPoint] = []
    at = start
    while at <= end:
        inside = sum(1 for e, x in rows if e <= at and (x is None or x > at))
        points.append(OccupancyPoint(at=at, inside=inside))
        at += timedelta(minutes=step_min)
    return points


def daily(
    session: Session,
    station_ids: Iterable[str] | None,
    since: datetime,
    until: datetime,
    tz: ZoneInfo,
) -> list[DailyRow]:
    """Per station and local day: visits, distinct members, mean dwell and alerts."""
    check_window(since, until)
    ids = [s.id for s in _visible_stations(session, station_ids)]
    visits = _daily_visits(session, ids, since, until, tz)
    alerts = _daily_alerts(session, ids, since, until, tz)
    rows = [
        DailyRow(
            station_id=s,
            day=date.fromisoformat(str(d)),
            visits=int(n),
            unique_members=int(m),
            mean_dwell_s=float(mean) if mean is not None else None,
            alerts=alerts.get((s, str(d)), 0),
        )
        for s, d, n, m, mean in visits
    ]
    return sorted(rows, key=lambda r: (r.station_id, r.day))


def _daily_visits(
    session: Session, ids: list[str], since: datetime, until: datetime, tz: ZoneInfo
) -> list[Any]:
    vday = func.date(_local(session, col(VisitRecord.entered_at), tz, until))
    query = (
        sa_select(
            col(VisitRecord.station_id),
            vday,
            func.count(),
            func.count(func.distinct(VisitRecord.member_id)),
            func.avg(_dwell_s(session)),
        )
        .where(
            col(VisitRecord.station_id).in_(ids),
            col(VisitRecord.entered_at) >= since,
            col(VisitRecord.entered_at) < until,
        )
        .group_by(_FIRST, _SECOND)
    )
    return list(session.connection().execute(query).all())


def _daily_alerts(
    session: Session, ids: list[str], since: datetime, until: datetime, tz: ZoneInfo
) -> dict[tuple[str, str], int]:
    aday = func.date(_local(session, col(Alert.first_at), tz, until))
    query = (
        select(Alert.station_id, aday, func.count())
        .where(
            col(Alert.station_id).in_(ids),
            col(Alert.first_at) >= since,
            col(Alert.first_at) < until,
        )
        .group_by(_FIRST, _SECOND)
    )
    return {(s, str(d)): int(n) for s, d, n in session.exec(query).all()}
