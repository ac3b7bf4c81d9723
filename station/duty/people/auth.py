"""Who is calling: passwords (argon2), login tokens, roles and station scopes."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from station.duty.errors import (
    ConflictError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
)
from station.duty.fleet.models import Station
from station.duty.people.models import (
    ApiToken,
    LoginThrottle,
    Role,
    User,
    UserCreate,
    UserPublic,
    UserStation,
)
from station.i18n import Language, parse_language

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AuthError(UnauthorizedError):
    """Wrong credentials or an expired token."""


class AccountError(ConflictError):
    """A user that cannot be created as asked."""


class LockedOutError(TooManyRequestsError):
    """Too many wrong passwords for this username: refused, right or wrong, until a time."""

    def __init__(self, until: datetime, now: datetime) -> None:
        super().__init__(f"too many failed sign-ins; try again after {until.isoformat()}")
        self.until = until
        self.retry_after_s = max(1, int((until - now).total_seconds()) + 1)


SESSION_PREFIX = "uwss_"
"""Staff sign-in tokens start with this (nodes use `uwsn_`, members `UWM1.`)."""


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user, the service token (an admin), a node or a member."""

    name: str
    role: Role
    station_ids: frozenset[str] | None = None
    node_id: str | None = None
    member_id: str | None = None
    session_hash: str | None = None

    def can_see(self, station_id: str) -> bool:
        """Return whether this caller may read or act on the station."""
        return self.station_ids is None or station_id in self.station_ids


class TokenState(StrEnum):
    """What a presented sign-in token turned out to be."""

    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    SIGNED_OUT = "signed_out"
    INACTIVE = "inactive"


@dataclass(frozen=True)
class TokenCheck:
    """The state of a sign-in token, its holder (when known) and the principal (when OK)."""

    state: TokenState
    username: str | None = None
    principal: Principal | None = None


SERVICE = Principal(name="service-token", role=Role.ADMIN)
MONITOR = Principal(name="metrics-scraper", role=Role.MONITOR, station_ids=frozenset())


def hash_password(password: str) -> str:
    """Return an argon2id hash of the password."""
    return _hasher.hash(password)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) a token is stored and looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, body: UserCreate) -> User:
    """Create a user; managers must name stations that exist."""
    if session.exec(select(User).where(User.username == body.username)).first() is not None:
        raise AccountError(f"user {body.username} exists")
    if body.role is Role.MANAGER and not body.station_ids:
        raise AccountError("a station manager needs at least one station")
    for station_id in body.station_ids:
        if session.get(Station, station_id) is None:
            raise AccountError(f"station {station_id} is not registered")
    user = User(
        username=body.username,
        password_hash=hash_password(body.password),
        role=body.role,
        phone=body.phone,
        language=body.language.value,
    )
    session.add(user)
    session.flush()
    assert user.id is not None
    for station_id in body.station_ids:
        session.add(UserStation(user_id=user.id, station_id=station_id))
    session.commit()
    session.refresh(user)
    return user


def ensure_admin(session: Session, username: str, password: str) -> None:
    """Create the first admin from settings when there are no users yet."""
    if session.exec(select(User.id)).first() is not None:
        return
    create_user(session, UserCreate(username=username, password=password, role=Role.ADMIN))
    logger.info("created the first admin user %s", username)


def station_ids(session: Session, user: User) -> list[str]:
    """Return the stations a user is scoped to."""
    rows = session.exec(select(UserStation.station_id).where(UserStation.user_id == user.id))
    return sorted(rows)


def language_of(session: Session, username: str) -> Language:
    """The language a user reads; the default for callers without a user row."""
    row = session.exec(select(User.language).where(User.username == username)).first()
    return parse_language(row)


def set_language(session: Session, username: str, language: Language) -> User:
    """Change the language a user reads; only signed-in users have one to change."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"{username} has no user settings")
    user.language = language.value
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def public(session: Session, user: User) -> UserPublic:
    """Return the API shape of a user."""
    return UserPublic.model_validate(user, update={"station_ids": station_ids(session, user)})


@dataclass(frozen=True)
class LockoutPolicy:
    """How many wrong passwords a username may have, and how long it is locked out then."""

    max_failures: int = 5
    lockout_s: float = 60
    max_lockout_s: float = 3600


def check_lockout(session: Session, username: str, now: datetime) -> None:
    """Raise LockedOutError while the username is locked out."""
    row = session.get(LoginThrottle, username)
    if row is not None and row.locked_until is not None and now < row.locked_until:
        raise LockedOutError(row.locked_until, now)


def record_failure(
    session: Session, username: str, now: datetime, policy: LockoutPolicy
) -> datetime | None:
    """Count a wrong password; return the lockout's end when this failure starts one.

    Each lockout is twice as long as the one before (up to the policy's longest); only a
    successful sign-in forgets them.
    """
    for attempt in range(2):
        row = session.get(LoginThrottle, username) or LoginThrottle(username=username)
        row.failures += 1
        row.last_failure_at = now
        locked: datetime | None = None
        if row.failures >= policy.max_failures:
            seconds = min(policy.lockout_s * 2**row.strikes, policy.max_lockout_s)
            locked = now + timedelta(seconds=seconds)
            row.locked_until, row.failures, row.strikes = locked, 0, row.strikes + 1
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            # Another replica counted this username's first failure at the same moment.
            session.rollback()
            if attempt:
                raise
            continue
        return locked
    return None


def login(
    session: Session,
    username: str,
    password: str,
    now: datetime,
    ttl: timedelta,
    policy: LockoutPolicy | None = None,
) -> tuple[str, datetime, User]:
    """Check the password and issue a bearer token.

    Raises LockedOutError (the right password too) while the username is locked out, and
    AuthError when wrong; a wrong password counts towards the next lockout.
    """
    policy = policy or LockoutPolicy()
    check_lockout(session, username, now)
    user = session.exec(select(User).where(User.username == username)).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError) as err:
        record_failure(session, username, now, policy)
        raise AuthError("wrong username or password") from err
    if user is None or not user.active:
        record_failure(session, username, now, policy)
        raise AuthError("wrong username or password")
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + ttl
    assert user.id is not None
    session.exec(delete(ApiToken).where(col(ApiToken.expires_at) < now))
    session.exec(delete(LoginThrottle).where(col(LoginThrottle.username) == username))
    session.add(ApiToken(token_hash=token_hash(token), user_id=user.id, expires_at=expires))
    session.commit()
    return token, expires, user


def logout(session: Session, principal: Principal, now: datetime) -> bool:
    """Revoke the caller's sign-in token; it stays on file, refused, until it expires."""
    if principal.session_hash is None:
        return False
    row = session.get(ApiToken, principal.session_hash)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    session.add(row)
    session.commit()
    return True


def check_token(session: Session, token: str, now: datetime) -> TokenCheck:
    """Who holds this sign-in token, and whether it still works (expiry, sign-out, account)."""
    digest = token_hash(token)
    row = session.get(ApiToken, digest)
    if row is None:
        return TokenCheck(TokenState.UNKNOWN)
    user = session.get(User, row.user_id)
    username = user.username if user else None
    if row.revoked_at is not None:
        return TokenCheck(TokenState.SIGNED_OUT, username)
    if row.expires_at <= now:
        return TokenCheck(TokenState.EXPIRED, username)
    if user is None or not user.active:
        return TokenCheck(TokenState.INACTIVE, username)
    scope = frozenset(station_ids(session, user)) if user.role is Role.MANAGER else None
    principal = Principal(
        name=user.username, role=user.role, station_ids=scope, session_hash=digest
    )
    return TokenCheck(TokenState.OK, username, principal)


def principal_for_token(session: Session, token: str, now: datetime) -> Principal | None:
    """Return who holds this login token, or None if unknown, expired or signed out."""
    return check_token(session, token, now).principal
