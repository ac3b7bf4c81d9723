"""Sign-in, the caller's identity, users (admins only) and the audit log."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status
from sqlmodel import col, select

from station.duty.api.access import CallerDep
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
)
from station.duty.services import NowDep, ServicesDep, SessionDep

public_router = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"])


@public_router.post("/auth/login")
def login(
    services: ServicesDep, session: SessionDep, now: NowDep, body: LoginRequest
) -> LoginResponse:
    """Exchange a username and password for a bearer token."""
    ttl = timedelta(hours=services.settings.login_ttl_h)
    try:
        token, expires, user = auth.login(session, body.username, body.password, now, ttl)
    except auth.AuthError:
        # A failed sign-in is audited in its own transaction, then answered 401.
        audit_denied(services.engine, body.username, "login", "", None)
        raise
    audit(session, user.username, "login")
    session.commit()
    return LoginResponse(access_token=token, expires_at=expires, user=auth.public(session, user))


@router.get("/auth/me")
def me(who: CallerDep) -> dict[str, object]:
    """Who the token belongs to."""
    stations = sorted(who.station_ids) if who.station_ids is not None else None
    return {"username": who.name, "role": who.role, "station_ids": stations}


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(session: SessionDep, who: CallerDep, body: UserCreate) -> UserPublic:
    """Create a user; admins only."""
    who.require_role("create user", Role.ADMIN)
    user = auth.create_user(session, body)
    audit(session, who, "create user", f"user {user.username}", None, user.role.value)
    session.commit()
    return auth.public(session, user)


@router.get("/audit")
def list_audit(
    session: SessionDep,
    who: CallerDep,
    paging: PagingDep,
    actor: str | None = None,
    outcome: str | None = None,
) -> Page[AuditPublic]:
    """Read the audit log (admins only); it has no edit or delete endpoint by design."""
    who.require_role("read audit log", Role.ADMIN)
    query = filtered(
        select(AuditEntry).order_by(col(AuditEntry.id).desc()),
        AuditEntry,
        actor=actor,
        outcome=outcome,
    )
    return paginate(session, query, AuditPublic, paging.limit, paging.offset)
