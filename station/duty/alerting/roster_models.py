"""Duty rotations, overrides and escalation policies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from station.duty.db import UTCDateTime


class RotationBase(SQLModel):
    """Who is on duty for a region, shift by shift, in the region's time zone."""

    name: str = Field(max_length=100)
    region: str = Field(default="", max_length=100, description="Station region; '' covers all.")
    level: int = Field(default=1, ge=1, le=9, description="1 answers first, 2 next, ...")
    timezone: str = Field(default="Asia/Shanghai", max_length=64, description="IANA zone.")
    starts_on: date = Field(description="The first shift starts on this local date.")
    handoff_hour: int = Field(default=8, ge=0, le=23, description="Local hour shifts change.")
    shift_hours: int = Field(default=24, ge=1, le=24 * 14, description="Length of one shift.")


class Rotation(RotationBase, table=True):
    """A rotation row; members take shifts in list order."""

    id: int | None = Field(default=None, primary_key=True)
    members: list[str] = Field(sa_column=Column(JSON, nullable=False))


class RotationCreate(RotationBase):
    """Body to create a rotation."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    members: list[str] = Field(min_length=1, description="Usernames, in shift order.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r}") from err
        return value


class RotationPublic(RotationBase):
    """A rotation as the API shows it."""

    id: int
    members: list[str]


class RosterOverride(SQLModel, table=True):
    """Someone covers a rotation for a while (swap, sick leave)."""

    __tablename__ = "roster_override"

    id: int | None = Field(default=None, primary_key=True)
    rotation_id: int = Field(foreign_key="rotation.id", index=True)
    username: str = Field(max_length=64)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)


class OverrideCreate(SQLModel):
    """Body to add an override."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    username: str = Field(max_length=64)
    starts_at: datetime
    ends_at: datetime


class EscalationStep(BaseModel):
    """Notify the people on duty at one level, then wait before the next step."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    level: int = Field(ge=1, le=9, description="Rotation level to notify.")
    wait_s: float = Field(gt=0, le=24 * 3600, description="Wait before the next step.")


class EscalationPolicy(SQLModel, table=True):
    """Ordered steps, repeated until someone acknowledges; one per region, '' the default."""

    __tablename__ = "escalation_policy"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    region: str = Field(default="", max_length=100, index=True)
    steps: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    repeat: int = Field(default=2, ge=0, le=20, description="Extra rounds after the first.")


class EscalationPolicyCreate(SQLModel):
    """Body to create a policy."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    name: str = Field(max_length=100)
    region: str = Field(default="", max_length=100)
    steps: list[EscalationStep] = Field(min_length=1, max_length=10)
    repeat: int = Field(default=2, ge=0, le=20)


class EscalationPolicyPublic(SQLModel):
    """A policy as the API shows it."""

    id: int
    name: str
    region: str
    steps: list[EscalationStep]
    repeat: int
