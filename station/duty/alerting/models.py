"""Alerting's tables and API shapes: events, alerts, their trail, the feed, deliveries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import JSON, Column, Index, LargeBinary, text
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from station.contracts import utcnow
from station.duty.db import UTCDateTime, enum_field, utc_field


class SnapshotRecord(SQLModel, table=True):
    """The blurred JPEG of one event, in the database so that every replica can serve it."""

    __tablename__ = "snapshot"

    node_id: str = Field(primary_key=True, max_length=64, description="The node that sent it.")
    event_id: str = Field(primary_key=True, max_length=64, description="The event it shows.")
    jpeg: bytes = Field(sa_column=Column(LargeBinary, nullable=False), description="JPEG bytes.")
    # When cloud-duty stored it; retention reads it.
    stored_at: datetime = utc_field(index=True)


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
    started_at: datetime = utc_field(index=True)
    updated_at: datetime = utc_field()
    ended_at: datetime | None = utc_field(nullable=True)
    alert_id: int | None = Field(default=None, foreign_key="alert.id", index=True)
    snapshot_withheld: str = Field(
        default="", max_length=100, description="Why the node kept the snapshot back, if it did."
    )
    # The SeenBox list of the opening message: labels the snapshot for training exports.
    boxes: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


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
    snapshot_withheld: str = ""


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
    severity: str = Field(
        default="warning",
        max_length=16,
        sa_column_kwargs={"server_default": "warning"},
        description="info, warning, major or critical; raised, never lowered, by its events.",
    )
    status: AlertStatus = enum_field(AlertStatus, AlertStatus.OPEN, index=True)
    active: bool = Field(default=True, description="The condition still holds.")
    active_events: int = 0
    count: int = Field(default=1, description="Events folded into this alert.")
    score: float = 0.0
    first_at: datetime = utc_field(index=True)
    last_at: datetime = utc_field()
    cleared_at: datetime | None = utc_field(nullable=True)
    acknowledged_by: str | None = Field(default=None, max_length=128)
    acknowledged_at: datetime | None = utc_field(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=128)
    resolved_at: datetime | None = utc_field(nullable=True)
    last_event_id: str | None = Field(default=None, max_length=64)
    snapshot_event_id: str | None = Field(
        default=None,
        max_length=64,
        description="Its latest event that came with a snapshot: the picture to show.",
    )
    verdict: Verdict | None = Field(default=None, sa_type=_VERDICT_TYPE)
    verdict_by: str | None = Field(default=None, max_length=128)
    verdict_at: datetime | None = utc_field(nullable=True)
    snoozed_until: datetime | None = utc_field(nullable=True)
    suppressed: bool = Field(default=False, description="Held back: its station is offline.")
    reopened: int = Field(default=0, description="Times it fired again soon after resolution.")
    escalation_level: int = Field(default=0, description="Escalation steps run so far.")
    paged_steps: int = Field(default=0, description="Escalation steps whose notices went out.")
    next_step_at: datetime | None = utc_field(
        nullable=True, index=True
    )  # next step due; while a step sends, when it counts as stalled
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
    snapshot_event_id: str | None = None
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
    at: datetime = utc_field(default=True)


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
    at: datetime = utc_field(default=True)


class Delivery(SQLModel, table=True):
    """One attempt to deliver a notice through one channel, with its result."""

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    channel: str = Field(max_length=32, description="Notifier name: wecom, dingtalk, sms, ...")
    recipient: str = Field(max_length=128, description="Webhook or user name; phones masked.")
    attempt: int = Field(ge=1, description="1 for the first try of this notice.")
    ok: bool = Field(description="The provider accepted the message.")
    status_code: int | None = Field(default=None, description="HTTP status, if any.")
    detail: str = Field(default="", max_length=500, description="The result in words.")
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    message_id: str | None = Field(
        default=None, max_length=64, index=True, description="The provider's message/call id."
    )
    receipt: str | None = Field(
        default=None,
        max_length=16,
        description="What the provider's receipt said: delivered, failed; unconfirmed when "
        "none came in time.",
    )
    receipt_at: datetime | None = utc_field(nullable=True)


class DeliveryPublic(SQLModel):
    """A delivery attempt as the API shows it."""

    id: int
    alert_id: int
    channel: str
    recipient: str
    attempt: int
    ok: bool
    status_code: int | None
    detail: str
    at: datetime
    message_id: str | None
    receipt: str | None
    receipt_at: datetime | None


class PageState(StrEnum):
    """Where one page (a chain of texts and calls to the people on duty) stands."""

    WAITING = "waiting"
    DELIVERED = "delivered"
    EXHAUSTED = "exhausted"
    STOPPED = "stopped"


class PhonePage(SQLModel, table=True):
    """One escalation step's page: texts and calls tried in order until one is confirmed."""

    __tablename__ = "page"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    level: int = Field(description="Escalation level paged.")
    chain: list[list[str]] = Field(
        sa_column=Column(JSON, nullable=False),
        description="[username, channel] pairs, tried in order: SMS, voice, next person.",
    )
    position: int = Field(default=-1, description="The link tried last; -1 before the first.")
    state: PageState = enum_field(PageState, PageState.WAITING, index=True)
    delivery_id: int | None = Field(default=None, description="Delivery awaiting its receipt.")
    short_code: str = Field(max_length=8, index=True, description="Texted back to acknowledge.")
    deadline_at: datetime = utc_field(index=True)
    failovers: int = Field(default=0, description="Links given up on for want of a receipt.")
    created_at: datetime = utc_field(default=True)
