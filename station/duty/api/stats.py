"""Read-only statistics for the managers' dashboard, limited to the caller's stations."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request, status

from station.duty import stats
from station.duty.api.deps import NowDep, PrincipalDep, SessionDep, check_scope
from station.duty.auth import Principal
from station.duty.models import Station

router = APIRouter(tags=["stats"])

Tz = Annotated[str, Query(max_length=64, description="IANA zone for hours and days.")]
Since = Annotated[datetime | None, Query(description="From (default: 30 days before until).")]
Until = Annotated[datetime | None, Query(description="Before (default: now).")]


def _zone(name: str) -> ZoneInfo:
    try:
        return stats.zone(name)
    except stats.StatsError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err


def _window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    end = until or now
    start = since or end - timedelta(days=30)
    try:
        stats.check_window(start, end)
    except stats.StatsError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(err)) from err
    return start, end


def _station(
    request: Request, session: SessionDep, who: Principal, station_id: str, action: str
) -> Station:
    station = session.get(Station, station_id)
    if station is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"station {station_id!r} not found")
    check_scope(request, who, action, f"station {station_id}", station_id)
    return station


@router.get("/stats/overview")
def stats_overview(
    session: SessionDep, who: PrincipalDep, now: NowDep, tz: Tz = stats.DEFAULT_TZ
) -> stats.Overview:
    """Every station the caller may see: open alerts, offline nodes, inside now, today."""
    return stats.overview(session, who.station_ids, now, _zone(tz))


@router.get("/stations/{station_id}/stats")
def station_stats(
    request: Request,
    session: SessionDep,
    who: PrincipalDep,
    now: NowDep,
    station_id: str,
    since: Since = None,
    until: Until = None,
    tz: Tz = stats.DEFAULT_TZ,
) -> stats.StationStats:
    """Visits by hour and weekday, dwell time, occupations and alerts of one station."""
    zone = _zone(tz)
    _station(request, session, who, station_id, "read station stats")
    start, end = _window(since, until, now)
    return stats.station_stats(session, station_id, start, end, zone)


@router.get("/stations/{station_id}/stats/occupancy")
def station_occupancy_curve(
    request: Request,
    session: SessionDep,
    who: PrincipalDep,
    now: NowDep,
    station_id: str,
    day: Annotated[date | None, Query(description="A local day (default: the last 24 h).")] = None,
    tz: Tz = stats.DEFAULT_TZ,
) -> list[stats.OccupancyPoint]:
    """People inside every 15 minutes over one local day, or over the last 24 hours."""
    zone = _zone(tz)
    _station(request, session, who, station_id, "read station stats")
    start, end = now - timedelta(days=1), now
    if day is not None:
        start = datetime.combine(day, time(), zone)
        end = min(start + timedelta(days=1), now)
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{day} has not begun yet")
    return stats.occupancy_curve(session, station_id, start, end)


@router.get("/stats/daily")
def daily_stats(
    request: Request,
    session: SessionDep,
    who: PrincipalDep,
    now: NowDep,
    station_id: Annotated[list[str] | None, Query(max_length=200)] = None,
    since: Since = None,
    until: Until = None,
    tz: Tz = stats.DEFAULT_TZ,
) -> list[stats.DailyRow]:
    """Per station and local day: visits, distinct members, mean dwell, alerts."""
    zone = _zone(tz)
    start, end = _window(since, until, now)
    ids = who.station_ids
    if station_id:
        for sid in station_id:
            _station(request, session, who, sid, "read daily stats")
        ids = frozenset(station_id)
    return stats.daily(session, ids, start, end, zone)
