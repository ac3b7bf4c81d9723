"""People's tables and API shapes: users and their tokens, the audit log, members and
their consents, and visits.

Cloud-duty keeps pseudonymous member ids, consent records and visits: never a face image
or template, never a phone number in clear."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from station.contracts import utcnow
from station.duty.db import ID_PATTERN, UTCDateTime, utc_field
from station.i18n import DEFAULT_LANGUAGE, Language


class Role(StrEnum):
    """Who calls: admin everything, duty staff all alerts, managers their stations; a node
    its own station's entry sync, snapshots and command results; a member their own data;
    the monitor (the Prometheus scraper's token) the metrics only."""

    ADMIN = "admin"
    DUTY = "duty"
    MANAGER = "manager"
    NODE = "node"
    MEMBER = "member"
    MONITOR = "monitor"


STAFF_ROLES = frozenset({Role.ADMIN, Role.DUTY, Role.MANAGER})
"""The roles a user account may have: nodes and members hold credentials, not accounts."""


_ROLE_TYPE: Any = SAEnum(Role, values_callable=lambda e: [m.value for m in e], native_enum=False)


class User(SQLModel, table=True):
    """A person who signs in to the console, the API or the dashboard."""

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=256)
    role: Role = Field(sa_type=_ROLE_TYPE)
    phone: str = Field(default="", max_length=32, description="For SMS escalation.")
    language: str = Field(
        default=DEFAULT_LANGUAGE.value,
        max_length=8,
        sa_column_kwargs={"server_default": DEFAULT_LANGUAGE.value},
        description="What the user reads: the console, the dashboard, their notices.",
    )
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
    language: Language = Field(default=DEFAULT_LANGUAGE, description="zh-CN or en.")
    station_ids: list[str] = Field(default_factory=list, description="A manager's stations.")

    @field_validator("role")
    @classmethod
    def _staff_only(cls, role: Role) -> Role:
        if role not in STAFF_ROLES:
            raise ValueError("a user is admin, duty or manager; nodes and members get credentials")
        return role


class UserPublic(SQLModel):
    """A user as the API shows it (never the hash)."""

    id: int
    username: str
    role: Role
    phone: str
    language: Language = DEFAULT_LANGUAGE
    active: bool
    station_ids: list[str] = []


class UserSettingsUpdate(SQLModel):
    """The settings a signed-in user changes for themselves."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    language: Language = Field(description="zh-CN or en.")


class ApiToken(SQLModel, table=True):
    """A bearer token issued at login; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    token_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="user.id", index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, nullable=True, description="Set at sign-out."
    )


class LoginThrottle(SQLModel, table=True):
    """Wrong passwords for one username, and the lockout they earned (doubling each time)."""

    __tablename__ = "login_throttle"

    username: str = Field(primary_key=True, max_length=64)
    failures: int = Field(default=0, description="Wrong passwords since the last success.")
    strikes: int = Field(default=0, description="Lockouts so far; each doubles the next.")
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


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


class Member(SQLModel, table=True):
    """A member under a pseudonymous id: no name, no face, no phone in clear."""

    id: str = Field(primary_key=True, max_length=64)
    occupation: str = Field(default="", max_length=100)
    created_at: datetime = utc_field(default=True)
    employer_platform: str = Field(default="", max_length=100, description="Delivery app etc.")
    phone_hash: str | None = Field(
        default=None, max_length=64, index=True, description="Keyed hash of the phone number."
    )
    station_id: str | None = Field(
        default=None,
        foreign_key="station.id",
        index=True,
        max_length=64,
        description="Home station, where the member registered: its managers look after them.",
    )


class MemberCreate(BaseModel):
    """Body to register a member: no name, the phone only to be hashed."""

    model_config = ConfigDict(extra="forbid")
    occupation: str = Field(default="", max_length=100, description="Courier, rider, ...")
    employer_platform: str = Field(default="", max_length=100, description="Employer or app.")
    phone: str | None = Field(
        default=None,
        schema_extra={"pattern": r"^\+?[0-9 -]{6,20}$"},
        description="Kept only as a keyed hash.",
    )
    station_id: str | None = Field(
        default=None,
        schema_extra={"pattern": ID_PATTERN},
        description="Home station (a manager must name one of theirs).",
    )


class MemberUpdate(BaseModel):
    """A member's correction of what is held about them (PIPL art. 46)."""

    model_config = ConfigDict(extra="forbid")
    occupation: str | None = Field(default=None, max_length=100)
    employer_platform: str | None = Field(default=None, max_length=100)


class MemberPublic(BaseModel):
    """A member as the API shows it: pseudonymous."""

    id: str
    occupation: str
    employer_platform: str
    has_phone: bool
    revoked: bool
    created_at: datetime
    station_id: str | None = None


class TokenPurpose(StrEnum):
    """What a member's code asks of the door: to open it, or to enrol their face there."""

    ENTRY = "entry"
    ENROL = "enrol"


ENROL_TTL_MAX_S = 600
"""An enrolment code is shown at the door within minutes, never kept."""


class TokenRequest(BaseModel):
    """Body to issue an entry token (or an enrolment code, which opens no door)."""

    model_config = ConfigDict(extra="forbid")
    scopes: list[str] = Field(
        min_length=1, max_length=8, description="Station ids, or region:<name>."
    )
    ttl_s: int = Field(default=30, ge=5, le=7 * 24 * 3600, description="Lifetime in seconds.")
    purpose: TokenPurpose = Field(
        default=TokenPurpose.ENTRY,
        description=f"entry: opens the door; enrol: starts face enrolment at the door "
        f"(lifetime at most {ENROL_TTL_MAX_S} s).",
    )

    @model_validator(mode="after")
    def _short_enrolment(self) -> TokenRequest:
        if self.purpose is TokenPurpose.ENROL and self.ttl_s > ENROL_TTL_MAX_S:
            raise ValueError(f"an enrolment code lives at most {ENROL_TTL_MAX_S} s")
        return self


class IssuedToken(BaseModel):
    """An issued token and when it stops working."""

    token: str
    member_id: str
    expires_at: datetime


class EntrySync(BaseModel):
    """What a node pulls: the keys to verify with, who may no longer enter, and which
    templates it must delete (erased members, withdrawals) and confirm."""

    public_key: str = Field(description="The current key tokens are signed with.")
    public_keys: list[str] = Field(
        default_factory=list, description="Every key still accepted, current first."
    )
    revoked: list[str]
    face_withdrawn: list[str]
    erased: list[str] = Field(
        default_factory=list, description="Erased members: delete and confirm (deletions)."
    )
    withdrawal_orders: list[str] = Field(
        default_factory=list,
        description="Members whose template this node must delete after a withdrawal and "
        "confirm (deletions, reason withdrawal).",
    )
    revoked_cards: list[str] = Field(
        default_factory=list, description="Printed cards revoked (lost, returned, erased)."
    )


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
    text_sha256: str | None = Field(
        default=None, max_length=64, nullable=True, description="SHA-256 of that text's file."
    )
    station_id: str = Field(foreign_key="station.id", max_length=64)
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ConsentCreate(SQLModel):
    """Body of a consent given at a station."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    kind: ConsentKind = Field(description="face, or face_sharing (needs face first).")
    text_version: str = Field(
        min_length=1,
        max_length=32,
        description="Version of the text the member agreed to (GET /consent-texts).",
    )
    text_sha256: str | None = Field(
        default=None,
        schema_extra={"pattern": "^[0-9a-f]{64}$"},
        description="SHA-256 of the text shown; refused when it is not that version's.",
    )
    station_id: str = Field(
        schema_extra={"pattern": ID_PATTERN}, max_length=64, description="Where it was given."
    )


class ConsentPublic(SQLModel):
    """A consent record as the API shows it."""

    id: int
    member_id: str
    kind: str
    text_version: str
    text_sha256: str | None = None
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
    """Legacy: where keys were kept before the key file. Read once by `station keys
    import-legacy`, which moves them to the key file and empties this table."""

    __tablename__ = "entry_key"

    id: int = Field(default=1, primary_key=True)
    private_key: str = Field(max_length=64, description="Ed25519 private key, hex.")
    phone_key: str = Field(max_length=64, description="HMAC key of phone hashes, hex.")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class VisitRecord(SQLModel, table=True):
    """A visit to a station: entry, and exit once known."""

    __tablename__ = "visit"

    id: str = Field(primary_key=True, max_length=64)
    node_id: str = Field(foreign_key="node.id", index=True, max_length=64)
    station_id: str = Field(foreign_key="station.id", index=True, max_length=64)
    member_id: str | None = Field(default=None, max_length=64, index=True)
    method: str = Field(max_length=16)
    entered_at: datetime = utc_field(index=True)
    exited_at: datetime | None = utc_field(nullable=True)


class VisitPublic(SQLModel):
    """A visit as the API shows it."""

    id: str
    node_id: str
    station_id: str
    member_id: str | None
    method: str
    entered_at: datetime
    exited_at: datetime | None
