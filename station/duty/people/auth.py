"""Who is calling: passwords (argon2), login tokens, roles and station scopes."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlmodel import Session, col, delete, select

from station.duty.errors import ConflictError, UnauthorizedError
from station.duty.fleet.models import Station
from station.duty.people.models import ApiToken, Role, User, UserCreate, UserPublic, UserStation

logger = logging.getLogger(__name__)

_hasher = PasswordHasher()
# Verified against when the user does not exist, so a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AuthError(UnauthorizedError):
    """Wrong credentials or an expired token."""


class AccountError(ConflictError):
    """A user that cannot be created as asked."""


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a user, or the service token (an admin)."""

    name: str
    role: Role
    station_ids: frozenset[str] | None = None

    def can_see(self, station_id: str) -> bool:
        """Return whether this caller may read or act on the station."""
        return self.station_ids is None or station_id in self.station_ids


SERVICE = Principal(name="service-token", role=Role.ADMIN)


def hash_password(password: str) -> str:
    """Return an argon2id hash of the password."""
    return _hasher.hash(password)


def _token_hash(token: str) -> str:
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


def public(session: Session, user: User) -> UserPublic:
    """Return the API shape of a user."""
    return UserPublic.model_validate(user, update={"station_ids": station_ids(session, user)})


def login(
    session: Session, username: str, password: str, now: datetime, ttl: timedelta
) -> tuple[str, datetime, User]:
    """Check the password and issue a bearer token; raise AuthError if wrong."""
    user = session.exec(select(User).where(User.username == username)).first()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError) as err:
        raise AuthError("wrong username or password") from err
    if user is None or not user.active:
        raise AuthError("wrong username or password")
    token = secrets.token_urlsafe(32)
    expires = now + ttl
    assert user.id is not None
    session.exec(delete(ApiToken).where(col(ApiToken.expires_at) < now))
    session.add(ApiToken(token_hash=_token_hash(token), user_id=user.id, expires_at=expires))
    session.commit()
    return token, expires, user


def principal_for_token(session: Session, token: str, now: datetime) -> Principal | None:
    """Return who holds this login token, or None if unknown or expired."""
    row = session.get(ApiToken, _token_hash(token))
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    scope = frozenset(station_ids(session, user)) if user.role is Role.MANAGER else None
    return Principal(name=user.username, role=user.role, station_ids=scope)
