"""Sign-in, the caller's identity, users (admins only) and the audit log."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, status
from sqlmodel import col, select

from station.duty import auth
from station.duty.account_models import (
    AuditEntry,
    AuditPublic,
    LoginRequest,
    LoginResponse,
    Role,
    UserCreate,
    UserPublic,
)
from station.duty.api.deps import (
    NowDep,
    PagingDep,
    PrincipalDep,
    SessionDep,
    conflict,
    require_role,
    state,
)
from station.duty.audit import audit, audit_denied
from station.duty.listing import filtered, paginate
from station.duty.models import Page

public_router = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"])


@public_router.post("/auth/login")
def login(request: Request, session: SessionDep, now: NowDep, body: LoginRequest) -> LoginResponse:
    """Exchange a username and password for a bearer token."""
    ttl = timedelta(hours=state(request, "settings").login_ttl_h)
    try:
        token, expires, user = auth.login(session, body.username, body.password, now, ttl)
    except auth.AuthError as err:
        audit_denied(state(request, "engine"), body.username, "login", "", None)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(err)) from err
    audit(session, user.username, "login")
    session.commit()
    return LoginResponse(access_token=token, expires_at=expires, user=auth.public(session, user))


@router.get("/auth/me")
def me(who: PrincipalDep) -> dict[str, object]:
    """Who the token belongs to."""
    stations = sorted(who.station_ids) if who.station_ids is not None else None
    return {"username": who.name, "role": who.role, "station_ids": stations}


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(
    request: Request, session: SessionDep, who: PrincipalDep, body: UserCreate
) -> UserPublic:
    """Create a user; admins only."""
    require_role(request, who, "create user", Role.ADMIN)
    try:
        user = auth.create_user(session, body)
    except auth.AccountError as err:
        raise conflict(err) from err
    audit(session, who, "create user", f"user {user.username}", None, user.role.value)
    session.commit()
    return auth.public(session, user)


@router.get("/audit")
def list_audit(
    request: Request,
    session: SessionDep,
    who: PrincipalDep,
    paging: PagingDep,
    actor: str | None = None,
    outcome: str | None = None,
) -> Page[AuditPublic]:
    """Read the audit log (admins only); it has no edit or delete endpoint by design."""
    require_role(request, who, "read audit log", Role.ADMIN)
    query = filtered(
        select(AuditEntry).order_by(col(AuditEntry.id).desc()),
        AuditEntry,
        actor=actor,
        outcome=outcome,
    )
    return paginate(session, query, AuditPublic, paging.limit, paging.offset)
