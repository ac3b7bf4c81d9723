"""Read-only statistics for the managers' dashboard, limited to the caller's stations."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from station.duty.api.access import Caller, StaffDep
from station.duty.errors import InvalidRequestError, NotFoundError
from station.duty.fleet.models import Station
from station.duty.reports import daily, faces, overview, station_report
from station.duty.reports.figures import (
    DEFAULT_TZ,
    DailyRow,
    OccupancyPoint,
    Overview,
    StationStats,
    check_window,
    time_zone,
)
from station.duty.services import NowDep, ServicesDep, SessionDep

router = APIRouter(tags=["stats"])

Tz = Annotated[str, Query(max_length=64, description="IANA zone for hours and days.")]
Since = Annotated[datetime | None, Query(description="From (default: 30 days before until).")]
Until = Annotated[datetime | None, Query(description="Before (default: now).")]


def _window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    end = until or now
    start = since or end - timedelta(days=30)
    check_window(start, end)
    return start, end


def _station(session: SessionDep, who: Caller, station_id: str, action: str) -> Station:
    station = session.get(Station, station_id)
    if station is None:
        raise NotFoundError(f"station {station_id!r} not found")
    who.check_scope(action, f"station {station_id}", station_id)
    return station


@router.get("/stats/overview")
def stats_overview(
    services: ServicesDep, session: SessionDep, who: StaffDep, now: NowDep, tz: Tz = DEFAULT_TZ
) -> Overview:
    """Every station the caller may see: open alerts, offline nodes, inside now, today; and
    the people whose faces their nodes may hold, against the filing threshold."""
    view = overview.overview(session, who.station_ids, now, time_zone(tz))
    settings = services.settings
    view.faces = faces.face_filing(
        session, who.station_ids, settings.face_filing_threshold, settings.face_filing_warn_share
    )
    return view


@router.get("/stations/{station_id}/stats")
def station_stats(
    session: SessionDep,
    who: StaffDep,
    now: NowDep,
    station_id: str,
    since: Since = None,
    until: Until = None,
    tz: Tz = DEFAULT_TZ,
) -> StationStats:
    """Visits by hour and weekday, dwell time, occupations and alerts of one station."""
    zone = time_zone(tz)
    _station(session, who, station_id, "read station stats")
    start, end = _window(since, until, now)
    return station_report.station_stats(session, station_id, start, end, zone)


@router.get("/stations/{station_id}/stats/occupancy")
def station_occupancy_curve(
    session: SessionDep,
    who: StaffDep,
    now: NowDep,
    station_id: str,
    day: Annotated[date | None, Query(description="A local day (default: the last 24 h).")] = None,
    tz: Tz = DEFAULT_TZ,
) -> list[OccupancyPoint]:
    """People inside every 15 minutes over one local day, or over the last 24 hours."""
    zone = time_zone(tz)
    _station(session, who, station_id, "read station stats")
    start, end = now - timedelta(days=1), now
    if day is not None:
        start = datetime.combine(day, time(), zone)
        end = min(start + timedelta(days=1), now)
    if end <= start:
        raise InvalidRequestError(f"{day} has not begun yet")
    return station_report.occupancy_curve(session, station_id, start, end)


@router.get("/stats/daily")
def daily_stats(
    session: SessionDep,
    who: StaffDep,
    now: NowDep,
    station_id: Annotated[list[str] | None, Query(max_length=200)] = None,
    since: Since = None,
    until: Until = None,
    tz: Tz = DEFAULT_TZ,
) -> list[DailyRow]:
    """Per station and local day: visits, distinct members, mean dwell, alerts."""
    zone = time_zone(tz)
    start, end = _window(since, until, now)
    ids = who.station_ids
    if station_id:
        for sid in station_id:
            _station(session, who, sid, "read daily stats")
        ids = frozenset(station_id)
    return daily.daily(session, ids, start, end, zone)
