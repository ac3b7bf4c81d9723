"""The delivery log: one row per attempt to notify someone about an alert."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from station.contracts import utcnow
from station.duty.db import UTCDateTime

# No import from station.duty.models: that module imports this one at its end.


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
