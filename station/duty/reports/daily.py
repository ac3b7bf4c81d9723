"""Per station and local day: visits, distinct members, mean dwell and alerts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from station.duty.alerting.models import Alert
from station.duty.people.models import VisitRecord
from station.duty.reports.dialect import FIRST, SECOND, dwell_seconds, local_time, visible_stations
from station.duty.reports.figures import DailyRow, check_window


def daily(
    session: Session,
    station_ids: Iterable[str] | None,
    since: datetime,
    until: datetime,
    tz: ZoneInfo,
) -> list[DailyRow]:
    """Per station and local day: visits, distinct members, mean dwell and alerts."""
    check_window(since, until)
    ids = [s.id for s in visible_stations(session, station_ids)]
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
    vday = func.date(local_time(session, col(VisitRecord.entered_at), tz, until))
    query = (
        sa_select(
            col(VisitRecord.station_id),
            vday,
            func.count(),
            func.count(func.distinct(VisitRecord.member_id)),
            func.avg(dwell_seconds(session)),
        )
        .where(
            col(VisitRecord.station_id).in_(ids),
            col(VisitRecord.entered_at) >= since,
            col(VisitRecord.entered_at) < until,
        )
        .group_by(FIRST, SECOND)
    )
    return list(session.connection().execute(query).all())


def _daily_alerts(
    session: Session, ids: list[str], since: datetime, until: datetime, tz: ZoneInfo
) -> dict[tuple[str, str], int]:
    aday = func.date(local_time(session, col(Alert.first_at), tz, until))
    query = (
        select(Alert.station_id, aday, func.count())
        .where(
            col(Alert.station_id).in_(ids),
            col(Alert.first_at) >= since,
            col(Alert.first_at) < until,
        )
        .group_by(FIRST, SECOND)
    )
    return {(s, str(d)): int(n) for s, d, n in session.exec(query).all()}
