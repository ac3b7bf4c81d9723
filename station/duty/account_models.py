"""Users, their roles and station scopes, API tokens, and the append-only audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from station.contracts import utcnow
from station.duty.db import UTCDateTime


class Role(StrEnum):
    """What a user may do: admin everything, duty staff all alerts, managers their stations."""

    ADMIN = "admin"
    DUTY = "duty"
    MANAGER = "manager"


_ROLE_TYPE: Any = SAEnum(Role, values_callable=lambda e: [m.value for m in e], native_enum=False)


class User(SQLModel, table=True):
    """A person who signs in to the console, the API or the dashboard."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=256)
    role: Role = Field(sa_type=_ROLE_TYPE)
    phone: str = Field(default="", max_length=32, description="For SMS escalation.")
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserStation(SQLModel, table=True):
    """A station a manager looks after."""

    __tablename__ = "user_station"

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    station_id: str = Field(foreign_key="station.id", primary_key=True, max_length=64)


class UserCreate(SQLModel):
    """Body to create a user."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    username: str = Field(schema_extra={"pattern": r"^[a-z0-9_.-]{2,64}$"})
    password: str = Field(min_length=10, max_length=256, description="At least 10 characters.")
    role: Role
    phone: str = Field(default="", max_length=32)
    station_ids: list[str] = Field(default_factory=list, description="A manager's stations.")


class UserPublic(SQLModel):
    """A user as the API shows it (never the hash)."""

    id: int
    username: str
    role: Role
    phone: str
    active: bool
    station_ids: list[str] = []


class ApiToken(SQLModel, table=True):
    """A bearer token issued at login; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LoginRequest(SQLModel):
    """Username and password."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class LoginResponse(SQLModel):
    """A bearer token and who it belongs to."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105  # the OAuth2 scheme name, not a secret
    expires_at: datetime
    user: UserPublic


class AuditEntry(SQLModel, table=True):
    """One line of the audit log: who did or read what, when, and whether it was allowed."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=64, index=True)
    action: str = Field(max_length=64)
    target: str = Field(default="", max_length=128)
    station_id: str | None = Field(default=None, max_length=64, index=True)
    outcome: str = Field(default="ok", max_length=16, description="ok or denied.")
    detail: str = Field(default="", max_length=500)


class AuditPublic(SQLModel):
    """An audit line as the API shows it."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    station_id: str | None
    outcome: str
    detail: str
