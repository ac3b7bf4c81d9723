"""SQLModel tables and their API shapes: one family (Base / table / Create / Public) each."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Column, Index, text
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from station.contracts import utcnow
from station.duty.db import UTCDateTime

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _enum(kind: type[StrEnum], default: StrEnum, *, index: bool = False) -> Any:
    """An enum column stored as its value (a short string), read back as the enum."""
    column_type = SAEnum(
        kind, values_callable=lambda e: [m.value for m in e], native_enum=False, length=16
    )
    return Field(default=default, sa_type=column_type, index=index)


def _ts(*, nullable: bool = False, index: bool = False, default: bool = False) -> Any:
    """A UTC timestamp column."""
    if default:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=nullable, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class StationBase(SQLModel):
    """What a station is: a rest stop with a name and a place."""

    name: str = Field(max_length=200, description="Shown to staff and managers.")
    region: str = Field(default="", max_length=100, index=True, description="City or district.")
    capacity: int | None = Field(default=None, ge=0, description="People the room holds.")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class Station(StationBase, table=True):
    """A station row."""

    id: str = Field(primary_key=True, max_length=64)
    created_at: datetime = _ts(default=True)


class StationCreate(StationBase):
    """Body to register a station."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    id: str = Field(schema_extra={"pattern": ID_PATTERN}, description="Stable station id.")


class StationPublic(StationBase):
    """A station as the API shows it."""

    id: str
    created_at: datetime


class NodeState(StrEnum):
    """Liveness of an edge node as cloud-duty sees it."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


class NodeBase(SQLModel):
    """An edge node serving one station."""

    station_id: str = Field(foreign_key="station.id", index=True, max_length=64)
    name: str = Field(default="", max_length=200)


class Node(NodeBase, table=True):
    """A node row, with its last known liveness and health."""

    id: str = Field(primary_key=True, max_length=64)
    state: NodeState = _enum(NodeState, NodeState.UNKNOWN)
    version: str = Field(default="", max_length=64)
    last_seen_at: datetime | None = _ts(nullable=True, index=True)
    health: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    devices: dict[str, Any] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="The node's last StationState: door, sensors, sockets, fan.",
    )
    created_at: datetime = _ts(default=True)


class NodeCreate(NodeBase):
    """Body to register a node."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    id: str = Field(
        schema_extra={"pattern": ID_PATTERN}, description="Node id, as in its MQTT topics."
    )


class NodePublic(NodeBase):
    """A node as the API shows it."""

    id: str
    state: NodeState
    version: str
    last_seen_at: datetime | None
    health: dict[str, Any] | None
    devices: dict[str, Any] | None
    created_at: datetime


class Member(SQLModel, table=True):
    """A member under a pseudonymous id: no name, no face, no phone in clear."""

    id: str = Field(primary_key=True, max_length=64)
    occupation: str = Field(default="", max_length=100)
    created_at: datetime = _ts(default=True)
    employer_platform: str = Field(default="", max_length=100, description="Delivery app etc.")
    phone_hash: str | None = Field(
        default=None, max_length=64, index=True, description="Keyed hash of the phone number."
    )


class EventRecord(SQLModel, table=True):
    """One hazard event from a node, folded from its new / update / end messages."""

    __tablename__ = "event"

    id: str = Field(primary_key=True, max_length=64, description="The node's event id.")
    node_id: str = Field(foreign_key="node.id", index=True, max_length=64)
    station_id: str = Field(foreign_key="station.id", index=True, max_length=64)
    camera_id: str = Field(max_length=64)
    kind: str = Field(max_length=32, index=True)
    zone: str = Field(default="", max_length=64)
    score: float
    count: int = 0
    last_seq: int = 0
    started_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()
    ended_at: datetime | None = _ts(nullable=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)


class EventPublic(SQLModel):
    """An event as the API shows it."""

    id: str
    node_id: str
    station_id: str
    camera_id: str
    kind: str
    zone: str
    score: float
    count: int
    last_seq: int
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    alert_id: int | None


class AlertStatus(StrEnum):
    """Where an alert stands with the people on duty."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Verdict(StrEnum):
    """A person's judgement of what the models said: kept as labelled data."""

    CONFIRMED = "confirmed"
    FALSE_ALARM = "false_alarm"


_VERDICT_TYPE: Any = SAEnum(
    Verdict, values_callable=lambda e: [m.value for m in e], native_enum=False, length=16
)


class Alert(SQLModel, table=True):
    """An alert: one per station + kind + zone while not resolved; repeats fold in."""

    __table_args__ = (
        Index(
            "uq_alert_open_key",
            "station_id",
            "kind",
            "zone",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="station.id", index=True, max_length=64)
    kind: str = Field(max_length=32, index=True)
    zone: str = Field(default="", max_length=64)
    severity: str = Field(max_length=16)
    status: AlertStatus = _enum(AlertStatus, AlertStatus.OPEN, index=True)
    active: bool = Field(default=True, description="The condition still holds.")
    active_events: int = 0
    count: int = Field(default=1, description="Events folded into this alert.")
    score: float = 0.0
    first_at: datetime = _ts(index=True)
    last_at: datetime = _ts()
    cleared_at: datetime | None = _ts(nullable=True)
    acknowledged_by: str | None = Field(default=None, max_length=128)
    acknowledged_at: datetime | None = _ts(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=128)
    resolved_at: datetime | None = _ts(nullable=True)
    last_event_id: str | None = Field(default=None, max_length=64)
    verdict: Verdict | None = Field(default=None, sa_type=_VERDICT_TYPE)
    verdict_by: str | None = Field(default=None, max_length=128)
    verdict_at: datetime | None = _ts(nullable=True)
    snoozed_until: datetime | None = _ts(nullable=True)
    suppressed: bool = Field(default=False, description="Held back: its station is offline.")
    reopened: int = Field(default=0, description="Times it fired again soon after resolution.")
    escalation_level: int = Field(default=0, description="Escalation steps run so far.")
    escalation_policy: list[dict[str, Any]] | None = Field(
        default=None,
        sa_column=Column(JSON(none_as_null=True), nullable=True),
        description="Copied at opening; NULL until escalation starts.",
    )


class AlertPublic(SQLModel):
    """An alert as the API and the feed show it."""

    id: int
    station_id: str
    kind: str
    zone: str
    severity: str
    status: AlertStatus
    active: bool
    count: int
    score: float
    first_at: datetime
    last_at: datetime
    cleared_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    last_event_id: str | None
    verdict: Verdict | None
    verdict_by: str | None
    verdict_at: datetime | None
    snoozed_until: datetime | None
    suppressed: bool
    reopened: int
    escalation_level: int


class AlertAction(SQLModel, table=True):
    """Who did what to an alert, and when: the alert's audit trail."""

    __tablename__ = "alert_action"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    action: str = Field(max_length=32)
    actor: str = Field(max_length=128)
    note: str = Field(default="", max_length=500)
    at: datetime = _ts(default=True)


class AlertActionPublic(SQLModel):
    """An alert action as the API shows it."""

    id: int
    alert_id: int
    action: str
    actor: str
    note: str
    at: datetime


class AlertActionCreate(SQLModel):
    """Body of acknowledge / resolve; who acts is the signed-in caller."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    note: str = Field(default="", max_length=500, description="Why, for the record.")


class VerdictCreate(AlertActionCreate):
    """Body of a verdict."""

    verdict: Verdict


class SnoozeCreate(AlertActionCreate):
    """Body of a snooze: no escalation or notices until it runs out."""

    minutes: int = Field(ge=1, le=24 * 60, description="How long to snooze.")


class FeedEntry(SQLModel, table=True):
    """One change to an alert, in order: the live feed replays these by id."""

    __tablename__ = "feed_entry"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    change: str = Field(max_length=32)
    at: datetime = _ts(default=True)


class VisitRecord(SQLModel, table=True):
    """A visit to a station: entry, and exit once known."""

    __tablename__ = "visit"

    id: str = Field(primary_key=True, max_length=64)
    node_id: str = Field(foreign_key="node.id", index=True, max_length=64)
    station_id: str = Field(foreign_key="station.id", index=True, max_length=64)
    member_id: str | None = Field(default=None, max_length=64, index=True)
    method: str = Field(max_length=16)
    entered_at: datetime = _ts(index=True)
    exited_at: datetime | None = _ts(nullable=True)


class VisitPublic(SQLModel):
    """A visit as the API shows it."""

    id: str
    node_id: str
    station_id: str
    member_id: str | None
    method: str
    entered_at: datetime
    exited_at: datetime | None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing with the total that matched."""

    items: list[T]
    total: int
    limit: int
    offset: int


from station.duty.account_models import ApiToken, AuditEntry, User, UserStation  # noqa: E402,F401
from station.duty.command_models import CommandRecord  # noqa: E402,F401
from station.duty.delivery_models import Delivery  # noqa: E402,F401
from station.duty.member_models import ConsentRecord, EntryKey, MemberRevocation  # noqa: E402,F401
from station.duty.node_credentials import NodeCredential  # noqa: E402,F401
from station.duty.roster_models import EscalationPolicy, RosterOverride, Rotation  # noqa: E402,F401
