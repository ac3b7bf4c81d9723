"""One station's report: visits by hour and weekday, dwell, occupations, alerts, occupancy."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from station.duty.alerting.models import Alert
from station.duty.people.models import Member, VisitRecord
from station.duty.reports.dialect import FIRST, dwell_seconds, hour_of, local_time, weekday_of
from station.duty.reports.figures import (
    DWELL_EDGES_MIN,
    Bucket,
    OccupancyPoint,
    StationStats,
    StatsError,
    check_window,
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
    local = local_time(session, col(VisitRecord.entered_at), tz, until)
    dwell = dwell_seconds(session)
    total, members, mean = session.exec(
        select(func.count(), func.count(func.distinct(VisitRecord.member_id)), func.avg(dwell))
        .select_from(VisitRecord)
        .where(window)
    ).one()
    by_hour = _spread(session, hour_of(session, local), window, 24)
    by_weekday = _spread(session, weekday_of(session, local), window, 7)
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
    for key, n in session.exec(select(part, func.count()).where(window).group_by(FIRST)).all():
        counts[int(key)] = int(n)
    return counts


def _dwell_buckets(
    session: Session, window: ColumnElement[bool], dwell: ColumnElement[Any]
) -> list[Bucket]:
    edges = [m * 60 for m in DWELL_EDGES_MIN]
    index = case(*[(dwell < edge, i) for i, edge in enumerate(edges)], else_=len(edges))
    finished = and_(window, col(VisitRecord.exited_at).is_not(None))
    counts = dict(session.exec(select(index, func.count()).where(finished).group_by(FIRST)).all())
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
