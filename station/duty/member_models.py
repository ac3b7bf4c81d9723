"""Entry tables: consent records, revocations and the entry signing key.

Cloud-duty keeps pseudonymous member ids, consent records and visits: never a face image
or template, never a phone number in clear.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict
from sqlmodel import Field, SQLModel

from station.contracts import utcnow
from station.duty.db import UTCDateTime

# No import from station.duty.models: that module imports this one at its end.

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class ConsentKind(StrEnum):
    """What a member agreed to; each is a separate consent."""

    FACE = "face"
    FACE_SHARING = "face_sharing"


class ConsentRecord(SQLModel, table=True):
    """One consent a member gave on a station's screen, and its withdrawal."""

    __tablename__ = "consent"

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(foreign_key="member.id", index=True, max_length=64)
    kind: str = Field(max_length=16, description="face or face_sharing.")
    text_version: str = Field(max_length=32, description="Version of the consent text shown.")
    station_id: str = Field(foreign_key="station.id", max_length=64)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ConsentCreate(SQLModel):
    """Body of a consent given at a station."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    kind: ConsentKind = Field(description="face, or face_sharing (needs face first).")
    text_version: str = Field(
        min_length=1, max_length=32, description="Version of the text the member agreed to."
    )
    station_id: str = Field(
        schema_extra={"pattern": _ID}, max_length=64, description="Where it was given."
    )


class ConsentPublic(SQLModel):
    """A consent record as the API shows it."""

    id: int
    member_id: str
    kind: str
    text_version: str
    station_id: str
    granted_at: datetime
    withdrawn_at: datetime | None


class MemberRevocation(SQLModel, table=True):
    """A member whose entry tokens no node accepts any more."""

    __tablename__ = "member_revocation"

    member_id: str = Field(foreign_key="member.id", primary_key=True, max_length=64)
    reason: str = Field(default="", max_length=200)
    revoked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EntryKey(SQLModel, table=True):
    """cloud-duty's Ed25519 signing key and the key of phone hashes: one row, made once."""

    __tablename__ = "entry_key"

    id: int = Field(default=1, primary_key=True)
    private_key: str = Field(max_length=64, description="Ed25519 private key, hex.")
    phone_key: str = Field(max_length=64, description="HMAC key of phone hashes, hex.")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
