"""The one access dependency: who is calling, and the role and station-scope checks."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Query, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel
from sqlmodel.sql.expression import SelectOfScalar

from station.duty.errors import ForbiddenError
from station.duty.people.audit import audit_denied
from station.duty.people.auth import SERVICE, Principal, principal_for_token
from station.duty.people.models import Role
from station.duty.services import ServicesDep

_bearer = HTTPBearer(auto_error=False)
R = TypeVar("R", bound=SQLModel)


@dataclass(frozen=True)
class Caller:
    """The signed-in caller of one request; refusals it makes are audited."""

    principal: Principal
    engine: Engine

    @property
    def name(self) -> str:
        """The caller's username (or the service token's name)."""
        return self.principal.name

    @property
    def role(self) -> Role:
        """The caller's role."""
        return self.principal.role

    @property
    def station_ids(self) -> frozenset[str] | None:
        """The caller's stations; None means every station."""
        return self.principal.station_ids

    def can_see(self, station_id: str) -> bool:
        """Return whether the caller may read or act on the station."""
        return self.principal.can_see(station_id)

    def require_role(self, action: str, *roles: Role) -> None:
        """Refuse (403, audited) a caller whose role may not do this."""
        if self.role not in roles:
            audit_denied(self.engine, self.principal, action, "", None)
            raise ForbiddenError(f"{self.role.value} may not {action}")

    def check_scope(self, action: str, target: str, station_id: str) -> None:
        """Refuse (403, audited) a caller acting outside their stations."""
        if not self.can_see(station_id):
            audit_denied(self.engine, self.principal, action, target, station_id)
            raise ForbiddenError(f"{target} is not in your stations")

    def scoped(self, query: SelectOfScalar[R], column: Any) -> SelectOfScalar[R]:
        """Limit a listing to the caller's stations."""
        if self.station_ids is None:
            return query
        return query.where(column.in_(sorted(self.station_ids)))


def current_caller(
    services: ServicesDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[
        str | None, Query(description="For EventSource clients that cannot set headers.")
    ] = None,
) -> Caller:
    """Resolve the bearer token (header, or query for the SSE feed) to a caller."""
    given = creds.credentials if creds else access_token
    if given:
        service = services.settings.api_token.get_secret_value()
        if hmac.compare_digest(given.encode(), service.encode()):
            return Caller(SERVICE, services.engine)
        with Session(services.engine) as session:
            principal = principal_for_token(session, given, services.clock.now())
        if principal is not None:
            return Caller(principal, services.engine)
    # The bearer challenge header is part of the 401; the shared handler sends none.
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "missing, wrong or expired token",
        headers={"WWW-Authenticate": "Bearer"},
    )


CallerDep = Annotated[Caller, Depends(current_caller)]
