"""Dependencies shared by the routers: database session, auth, paging, clock."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from station.duty.settings import DutySettings

_bearer = HTTPBearer(auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    """Yield a database session for one request."""
    with Session(request.app.state.engine) as session:
        yield session


def require_token(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[
        str | None, Query(description="For EventSource clients that cannot set headers.")
    ] = None,
) -> str:
    """Check the bearer token (header, or query for the SSE feed); return the caller."""
    settings: DutySettings = request.app.state.settings
    given = creds.credentials if creds else access_token
    expected = settings.api_token.get_secret_value()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "api"


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


def not_found(err: Exception) -> HTTPException:
    """Translate a domain look-up error into a 404."""
    return HTTPException(status.HTTP_404_NOT_FOUND, str(err))


def conflict(err: Exception) -> HTTPException:
    """Translate a domain conflict into a 409."""
    return HTTPException(status.HTTP_409_CONFLICT, str(err))


def state(request: Request, name: str) -> Any:
    """Return an object the app keeps in its state."""
    return getattr(request.app.state, name)
