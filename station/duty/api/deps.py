"""Dependencies shared by the routers: database session, caller, scope, paging, clock."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, SQLModel
from sqlmodel.sql.expression import SelectOfScalar

from station.duty.account_models import Role
from station.duty.audit import audit_denied
from station.duty.auth import SERVICE, Principal, principal_for_token
from station.duty.settings import DutySettings

_bearer = HTTPBearer(auto_error=False)
R = TypeVar("R", bound=SQLModel)


def get_session(request: Request) -> Iterator[Session]:
    """Yield a database session for one request."""
    with Session(request.app.state.engine) as session:
        yield session


def current_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[
        str | None, Query(description="For EventSource clients that cannot set headers.")
    ] = None,
) -> Principal:
    """Resolve the bearer token (header, or query for the SSE feed) to a caller."""
    settings: DutySettings = request.app.state.settings
    given = creds.credentials if creds else access_token
    if given:
        service = settings.api_token.get_secret_value()
        if hmac.compare_digest(given.encode(), service.encode()):
            return SERVICE
        with Session(request.app.state.engine) as session:
            principal = principal_for_token(session, given, request.app.state.clock.now())
        if principal is not None:
            return principal
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing, wrong or expired token",
        headers={"WWW-Authenticate": "Bearer"},
    )


def now(request: Request) -> datetime:
    """Return the app clock's time."""
    result: datetime = request.app.state.clock.now()
    return result


class Paging:
    """`limit` and `offset` query parameters."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
        offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


SessionDep = Annotated[Session, Depends(get_session)]
PagingDep = Annotated[Paging, Depends()]
NowDep = Annotated[datetime, Depends(now)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]


def scoped(query: SelectOfScalar[R], column: Any, who: Principal) -> SelectOfScalar[R]:
    """Limit a listing to the caller's stations."""
    if who.station_ids is None:
        return query
    return query.where(column.in_(sorted(who.station_ids)))


def check_scope(
    request: Request, who: Principal, action: str, target: str, station_id: str
) -> None:
    """Refuse (403, audited) a caller acting outside their stations."""
    if not who.can_see(station_id):
        audit_denied(request.app.state.engine, who, action, target, station_id)
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{target} is not in your stations")


def require_role(request: Request, who: Principal, action: str, *roles: Role) -> None:
    """Refuse (403, audited) a caller whose role may not do this."""
    if who.role not in roles:
        audit_denied(request.app.state.engine, who, action, "", None)
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{who.role.value} may not {action}")


def not_found(err: Exception) -> HTTPException:
    """Translate a domain look-up error into a 404."""
    return HTTPException(status.HTTP_404_NOT_FOUND, str(err))


def conflict(err: Exception) -> HTTPException:
    """Translate a domain conflict into a 409."""
    return HTTPException(status.HTTP_409_CONFLICT, str(err))


def state(request: Request, name: str) -> Any:
    """Return an object the app keeps in its state."""
    return getattr(request.app.state, name)
