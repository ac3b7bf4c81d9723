"""The fleet's tables and API shapes: stations, their edge nodes, broker logins, commands."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, field_validator
from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from station.contracts import CommandName, NodeHealth, StationState
from station.duty.db import ID_PATTERN, PydanticJSON, UTCDateTime, enum_field, utc_field
from station.i18n import DEFAULT_TIME_ZONE


class StationBase(SQLModel):
    """What a station is: a rest stop with a name and a place."""

    name: str = Field(max_length=200, description="Shown to staff and managers.")
    region: str = Field(default="", max_length=100, index=True, description="City or district.")
    capacity: int | None = Field(default=None, ge=0, description="People the room holds.")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    time_zone: str = Field(
        default=DEFAULT_TIME_ZONE,
        max_length=64,
        sa_column_kwargs={"server_default": DEFAULT_TIME_ZONE},
        description="IANA time zone: times of this station are shown in it.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value


class Station(StationBase, table=True):
    """A station row."""

    id: str = Field(primary_key=True, max_length=64)
    created_at: datetime = utc_field(default=True)


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
    state: NodeState = enum_field(NodeState, NodeState.UNKNOWN)
    version: str = Field(default="", max_length=64)
    last_seen_at: datetime | None = utc_field(nullable=True, index=True)
    health: NodeHealth | None = Field(
        default=None,
        sa_column=Column(PydanticJSON(NodeHealth), nullable=True),
        description="The node's last heartbeat.",
    )
    devices: StationState | None = Field(
        default=None,
        sa_column=Column(PydanticJSON(StationState), nullable=True),
        description="The node's last StationState: door, sensors, sockets, fan.",
    )
    created_at: datetime = utc_field(default=True)


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
    health: NodeHealth | None
    devices: StationState | None
    created_at: datetime


class NodeCredential(SQLModel, table=True):
    """A node's broker login and its own API credential: only hashes are kept (the
    password-file line, salted; the API credential's SHA-256)."""

    __tablename__ = "node_credential"

    node_id: str = Field(foreign_key="node.id", primary_key=True, max_length=64)
    password_line: str = Field(max_length=300)
    rotated_at: datetime = Field(sa_type=UTCDateTime)
    api_key_hash: str | None = Field(
        default=None,
        max_length=64,
        unique=True,
        index=True,
        nullable=True,
        description="SHA-256 of the node's API credential, hex.",
    )


class NodeEnrolment(SQLModel, table=True):
    """A one-time enrolment code of a node: only its SHA-256 is kept."""

    __tablename__ = "node_enrolment"

    code_hash: str = Field(primary_key=True, max_length=64)
    node_id: str = Field(foreign_key="node.id", index=True, max_length=64)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class NodeCredentialsIssued(SQLModel):
    """A node's credentials, shown this once: the broker login and its own API credential."""

    node_id: str
    station_id: str
    username: str = Field(description="Broker user name (the node id).")
    password: str = Field(description="Broker password.")
    api_token: str = Field(description="The node's own cloud-duty API credential (uwsn_...).")


class EnrolmentCode(SQLModel):
    """A one-time code to give the installer of a node, shown this once."""

    node_id: str
    code: str
    expires_at: datetime


class EnrolRequest(SQLModel):
    """Body of a node's enrolment: the code an admin gave its installer."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    code: str = Field(min_length=8, max_length=64)


class Enrolled(NodeCredentialsIssued):
    """What an enrolling node gets: its credentials and the keys entry tokens verify with."""

    region: str
    entry_public_keys: list[str] = Field(description="Current key first, then previous ones.")


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
