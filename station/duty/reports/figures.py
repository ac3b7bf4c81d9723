"""What the managers' dashboard is shown: the statistics' shapes, and the checks on a window."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from station.duty.errors import InvalidRequestError
from station.i18n import DEFAULT_TIME_ZONE

DEFAULT_TZ = "Asia/Shanghai"
MAX_RANGE_DAYS = 400
DWELL_EDGES_MIN = (5, 15, 30, 60, 120)
StationCondition = Literal["alert", "offline", "full", "ok"]


class StatsError(InvalidRequestError):
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
    state: StationCondition = Field(description="The worst of: alert, offline, full, ok.")
    time_zone: str = Field(
        default=DEFAULT_TIME_ZONE, description="The station's IANA zone: its times are shown in it."
    )


class FaceFiling(BaseModel):
    """People whose faces the nodes may hold, against the face recognition filing threshold."""

    enrolled: int = Field(
        description="Members with an active face consent (at the caller's stations, or shared "
        "with every node), plus erased members a node has yet to confirm deleted."
    )
    threshold: int = Field(description="People stored at which filing is due (2025 measures).")
    warn_at: int = Field(description="The count from which the dashboard warns.")
    network: bool = Field(description="The whole network's count (else the caller's stations).")


class Overview(BaseModel):
    """Every station the caller may see, with its state now."""

    generated_at: datetime
    stations: list[StationStatus]
    faces: FaceFiling | None = Field(
        default=None, description="Enrolled faces against the filing threshold."
    )


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


def time_zone(name: str) -> ZoneInfo:
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
