"""Sign-in, the caller's identity, users (admins only) and the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, status
from sqlmodel import col, select

from station.duty.api.access import PUBLIC, AdminDep, Caller, allow
from station.duty.listing import Page, PagingDep, filtered, paginate
from station.duty.people import auth
from station.duty.people.audit import audit, audit_denied
from station.duty.people.models import (
    AuditEntry,
    AuditPublic,
    LoginRequest,
    LoginResponse,
    Role,
    UserCreate,
    UserPublic,
    UserSettingsUpdate,
)
from station.duty.services import NowDep, ServicesDep, SessionDep

router = APIRouter(tags=["auth"])


@router.post("/auth/login", dependencies=[PUBLIC])
def login(
    services: ServicesDep, session: SessionDep, now: NowDep, body: LoginRequest
) -> LoginResponse:
    """Exchange a username and password for a bearer token (it expires, and sign-out
    revokes it). After too many wrong passwords the username is locked out, right password
    or not, for a while that doubles with each lockout (429 with Retry-After)."""
    settings = services.settings
    policy = auth.LockoutPolicy(
        settings.login_max_failures, settings.login_lockout_s, settings.login_lockout_max_s
    )
    ttl = timedelta(hours=settings.login_ttl_h)
    try:
        token, expires, user = auth.login(session, body.username, body.password, now, ttl, policy)
    except auth.LockedOutError as err:
        audit_denied(services.engine, body.username, "login", "", None, f"locked out: {err}")
        raise
    except auth.AuthError:
        # A failed sign-in is audited in its own transaction, then answered 401.
        audit_denied(services.engine, body.username, "login", "", None, "wrong password")
        raise
    audit(session, user.username, "login")
    session.commit()
    return LoginResponse(access_token=token, expires_at=expires, user=auth.public(session, user))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    session: SessionDep,
    who: Annotated[Caller, allow(Role.ADMIN, Role.DUTY, Role.MANAGER)],
    now: NowDep,
) -> None:
    """Sign out: the token is refused from now on, and any later use of it is audited."""
    if auth.logout(session, who.principal, now):
        audit(session, who, "logout")
        session.commit()


@router.get("/auth/me")
def me(session: SessionDep, who: Annotated[Caller, allow(*Role)]) -> dict[str, object]:
    """Who the token belongs to, and the language they read (zh-CN unless they chose)."""
    stations = sorted(who.station_ids) if who.station_ids is not None else None
    language = auth.language_of(session, who.name)
    return {"username": who.name, "role": who.role, "station_ids": stations, "language": language}


@router.patch("/auth/me")
def update_me(
    session: SessionDep,
    who: Annotated[Caller, allow(Role.ADMIN, Role.DUTY, Role.MANAGER)],
    body: UserSettingsUpdate,
) -> UserPublic:
    """Change the signed-in user's own settings: the language of their screens and notices."""
    user = auth.set_language(session, who.name, body.language)
    audit(session, who, "change settings", f"user {user.username}", None, body.language.value)
    session.commit()
    return auth.public(session, user)


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(session: SessionDep, who: AdminDep, body: UserCreate) -> UserPublic:
    """Create a user; admins only."""
    user = auth.create_user(session, body)
    audit(session, who, "create user", f"user {user.username}", None, user.role.value)
    session.commit()
    return auth.public(session, user)


@router.get("/audit")
def list_audit(
    session: SessionDep,
    who: AdminDep,
    paging: PagingDep,
    actor: str | None = None,
    outcome: str | None = None,
) -> Page[AuditPublic]:
    """Read the audit log (admins only); it has no edit or delete endpoint by design.
    Reading it is itself audited."""
    query = filtered(
        select(AuditEntry).order_by(col(AuditEntry.id).desc()),
        AuditEntry,
        actor=actor,
        outcome=outcome,
    )
    page = paginate(session, query, AuditPublic, paging.limit, paging.offset)
    audit(
        session, who, "read audit log", f"actor {actor or '*'}", None, f"outcome {outcome or '*'}"
    )
    session.commit()
    return page
