"""The cloud-duty API responses the dashboard reads, as typed models.

The dashboard speaks only HTTP to cloud-duty, so it keeps its own view of the shapes and
ignores fields it does not show (new fields on the server break nothing here).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class ApiModel(BaseModel):
    """A response shape: unknown fields are ignored, values are frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class User(ApiModel):
    """The signed-in user."""

    username: str
    role: str
    station_ids: list[str] = []
    language: str = "zh-CN"


class Login(ApiModel):
    """The answer to a sign-in."""

    access_token: str
    expires_at: datetime
    user: User


class Page(ApiModel, Generic[T]):
    """One page of a listing."""

    items: list[T]
    total: int
    limit: int
    offset: int


class Station(ApiModel):
    """A station in the registry."""

    id: str
    name: str
    region: str
    capacity: int | None
    latitude: float | None
    longitude: float | None
    time_zone: str = "Asia/Shanghai"


class StationStatus(ApiModel):
    """A station on the overview map."""

    station_id: str
    name: str
    region: str
    latitude: float | None
    longitude: float | None
    capacity: int | None
    open_alerts: int
    nodes_total: int
    nodes_offline: int
    inside: int
    visits_today: int
    state: Literal["alert", "offline", "full", "ok"]
    time_zone: str = "Asia/Shanghai"


class FaceFiling(ApiModel):
    """People whose faces the nodes may hold, against the filing threshold."""

    enrolled: int
    threshold: int
    warn_at: int
    network: bool


class Overview(ApiModel):
    """Every visible station and its state."""

    generated_at: datetime
    stations: list[StationStatus]
    faces: FaceFiling | None = None


class Bucket(ApiModel):
    """A labelled count."""

    label: str
    count: int


class StationStats(ApiModel):
    """A station's figures over a window."""

    station_id: str
    since: datetime
    until: datetime
    visits: int
    unique_members: int
    mean_dwell_s: float | None
    by_hour: list[int]
    by_weekday: list[int]
    dwell: list[Bucket]
    occupations: list[Bucket]
    methods: list[Bucket]
    alerts_by_kind: list[Bucket]
    verdicts: list[Bucket]


class OccupancyPoint(ApiModel):
    """People inside at one moment."""

    at: datetime
    inside: int


class DailyRow(ApiModel):
    """One station's figures for one day."""

    station_id: str
    day: date
    visits: int
    unique_members: int
    mean_dwell_s: float | None
    alerts: int


class Alert(ApiModel):
    """An alert and what staff said about it."""

    id: int
    station_id: str
    kind: str
    zone: str
    severity: str
    status: str
    count: int
    score: float
    first_at: datetime
    last_at: datetime
    acknowledged_by: str | None
    resolved_by: str | None
    last_event_id: str | None
    snapshot_event_id: str | None = None
    verdict: str | None
    verdict_by: str | None


class Node(ApiModel):
    """An edge node and its last health report."""

    id: str
    station_id: str
    name: str
    state: str
    version: str
    last_seen_at: datetime | None
    health: dict[str, Any] | None
    devices: dict[str, Any] | None = None  # the node's last StationState, where reported


class NodeModelRow(ApiModel):
    """Which model version a node runs in one slot, which it should, and any rollback."""

    node_id: str
    station_id: str
    slot: str
    wanted: str
    running: str
    rolled_back_from: str = ""
    rollback_reason: str = ""
    state: str
    reported_at: datetime | None = None


class Member(ApiModel):
    """A pseudonymous member: no name, no face."""

    id: str
    occupation: str
    employer_platform: str
    has_phone: bool
    revoked: bool
    created_at: datetime
    station_id: str | None = None


class Consent(ApiModel):
    """A consent record."""

    id: int
    member_id: str
    kind: str
    text_version: str
    station_id: str
    granted_at: datetime
    withdrawn_at: datetime | None


class ErasureOrder(ApiModel):
    """A deletion order to one node, and when the node confirmed it."""

    node_id: str
    confirmed_at: datetime | None


class Erasure(ApiModel):
    """An erased member, and each node's confirmation that their template is gone."""

    id: int
    member_id: str
    station_id: str | None
    erased_at: datetime
    erased_by: str
    orders: list[ErasureOrder]
    complete: bool


class AlertPage(Page[Alert]):
    """A page of alerts (a named class, so the cache can pickle it)."""
