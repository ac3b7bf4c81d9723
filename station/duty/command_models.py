"""Remote commands sent to nodes, with their outcome."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict
from sqlmodel import Field, SQLModel

from station.contracts import CommandName
from station.duty.db import UTCDateTime


class CommandRecord(SQLModel, table=True):
    """A command as sent, and what the node answered."""

    __tablename__ = "command"

    id: str = Field(primary_key=True, max_length=64, description="The command's cmd_id.")
    node_id: str = Field(foreign_key="node.id", index=True, max_length=64)
    station_id: str = Field(foreign_key="station.id", index=True, max_length=64)
    name: str = Field(max_length=32)
    reason: str = Field(max_length=500)
    issued_by: str = Field(max_length=128)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    outcome: str = Field(default="sent", max_length=16, description="sent, done, refused, ...")
    detail: str = Field(default="", max_length=500)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CommandCreate(SQLModel):
    """Body of a remote command."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    name: CommandName
    reason: str = Field(min_length=3, max_length=500, description="Why; kept in the audit log.")
    ttl_s: int = Field(default=30, ge=5, le=600, description="The node refuses it after this.")


class CommandPublic(SQLModel):
    """A command as the API shows it."""

    id: str
    node_id: str
    station_id: str
    name: str
    reason: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    outcome: str
    detail: str
    answered_at: datetime | None
