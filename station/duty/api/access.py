"""The one access dependency: who is calling, which roles a route admits, and the
station, node and member scope checks. Every refusal is audited.

Each route declares its rule as the dependency of its caller parameter:

    def read_member(who: Annotated[Caller, allow(Role.ADMIN, Role.MANAGER)], ...)

or, when anyone may call it, `dependencies=[PUBLIC]`. `declare_access` refuses to start an
app with a route that declares neither, and writes each route's roles into the OpenAPI
schema (`x-roles`, and a line of the description).

Credentials, by their form:
- the service token (`UWS_API_TOKEN`): an admin, for automation;
- the scrape token (`UWS_METRICS_TOKEN`): the monitor, for Prometheus (`/metrics` only);
- `uwss_...`: a staff sign-in (admin, duty, manager), with an expiry and a sign-out check;
- `uwsn_...`: a node's own API credential, scoped to its node and station;
- `UWM1. ...`: a member's short-lived signed credential, for their own page and data.
Only the Authorization header carries them: never a URL.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel
from sqlmodel.sql.expression import SelectOfScalar
from starlette.routing import BaseRoute

from station.contracts import NODE_CREDENTIAL_PREFIX
from station.duty.errors import ForbiddenError
from station.duty.fleet.node_credentials import node_for_api_token
from station.duty.people.audit import audit_denied
from station.duty.people.auth import MONITOR, SERVICE, Principal, TokenState, check_token
from station.duty.people.models import Member, Role
from station.duty.services import Services, ServicesDep
from station.tokens import MEMBER_PREFIX, TokenRefusedError

_bearer = HTTPBearer(auto_error=False)
R = TypeVar("R", bound=SQLModel)

STAFF = (Role.ADMIN, Role.DUTY, Role.MANAGER)


@dataclass(frozen=True)
class Caller:
    """The signed-in caller of one request; refusals it makes are audited."""

    principal: Principal
    engine: Engine

    @property
    def name(self) -> str:
        """The caller's username (or `node:<id>`, `member:<id>`, the service token's name)."""
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

    def deny(self, action: str, target: str, station_id: str | None, why: str) -> ForbiddenError:
        """Audit a refusal and return the error to raise."""
        audit_denied(self.engine, self.principal, action, target, station_id, why)
        return ForbiddenError(why)

    def require_role(self, action: str, *roles: Role) -> None:
        """Refuse (403, audited) a caller whose role may not do this."""
        if self.role not in roles:
            raise self.deny(action, "", None, f"{self.role.value} may not {action}")

    def check_scope(self, action: str, target: str, station_id: str) -> None:
        """Refuse (403, audited) a caller acting outside their stations."""
        if not self.can_see(station_id):
            raise self.deny(action, target, station_id, f"{target} is not in your stations")

    def check_node(self, action: str, node_id: str, station_id: str) -> None:
        """Refuse a node acting for another node, and anyone outside their stations."""
        if self.role is Role.NODE and node_id != self.principal.node_id:
            raise self.deny(action, f"node {node_id}", station_id, "a node reaches only itself")
        self.check_scope(action, f"node {node_id}", station_id)

    def check_member(self, action: str, member: Member) -> None:
        """Refuse (403, audited) a caller who may not see this member.

        A member sees themselves only; a manager the members of their stations; admins
        and duty staff everyone; nodes nobody.
        """
        target = f"member {member.id}"
        if self.role is Role.MEMBER:
            if member.id != self.principal.member_id:
                raise self.deny(action, target, member.station_id, "a member sees only themselves")
            return
        if self.role is Role.NODE:
            raise self.deny(action, target, member.station_id, "nodes read no member records")
        if self.station_ids is not None and (
            member.station_id is None or member.station_id not in self.station_ids
        ):
            raise self.deny(action, target, member.station_id, f"{target} is not in your stations")

    def scoped(self, query: SelectOfScalar[R], column: Any) -> SelectOfScalar[R]:
        """Limit a listing to the caller's stations."""
        if self.station_ids is None:
            return query
        return query.where(column.in_(sorted(self.station_ids)))


def _unauthorized(why: str = "missing, wrong or expired token") -> HTTPException:
    # The bearer challenge header is part of the 401; the shared handler sends none.
    return HTTPException(status.HTTP_401_UNAUTHORIZED, why, headers={"WWW-Authenticate": "Bearer"})


def _member_principal(services: Services, credential: str) -> Principal:
    now = services.clock.now()
    try:
        claims = services.keys.member_verifier.verify(credential, now)
    except TokenRefusedError as err:
        audit_denied(services.engine, "member-credential", "member credential", "", None, str(err))
        raise _unauthorized("member credential refused") from err
    with Session(services.engine) as session:
        member = session.get(Member, claims.member_id)
    if member is None:
        audit_denied(
            services.engine,
            f"member:{claims.member_id}",
            "member credential",
            f"member {claims.member_id}",
            None,
            "no such member (erased?)",
        )
        raise _unauthorized("member credential refused")
    return Principal(
        name=f"member:{member.id}",
        role=Role.MEMBER,
        station_ids=frozenset(claims.scopes),
        member_id=member.id,
    )


def _staff_principal(services: Services, token: str) -> Principal:
    with Session(services.engine) as session:
        checked = check_token(session, token, services.clock.now())
    if checked.principal is not None:
        return checked.principal
    if checked.state in (TokenState.SIGNED_OUT, TokenState.INACTIVE):
        # A token replayed after sign-out (or of a disabled account) is an alarm, not noise.
        signed_out = checked.state is TokenState.SIGNED_OUT
        why = "token used after " + ("sign-out" if signed_out else "the account was disabled")
        audit_denied(services.engine, checked.username or "?", "use token", "", None, why)
    raise _unauthorized()


def authenticate(services: Services, given: str | None) -> Caller:
    """Resolve a bearer credential to a caller, or raise 401."""
    if not given:
        raise _unauthorized()
    service = services.settings.api_token.get_secret_value()
    if hmac.compare_digest(given.encode(), service.encode()):
        return Caller(SERVICE, services.engine)
    scrape = services.settings.metrics_token
    if scrape is not None and hmac.compare_digest(
        given.encode(), scrape.get_secret_value().encode()
    ):
        return Caller(MONITOR, services.engine)
    if given.startswith(NODE_CREDENTIAL_PREFIX):
        with Session(services.engine) as session:
            node = node_for_api_token(session, given)
        if node is None:
            audit_denied(services.engine, "node-credential", "use node credential", "", None)
            raise _unauthorized()
        principal = Principal(
            name=f"node:{node.id}",
            role=Role.NODE,
            station_ids=frozenset({node.station_id}),
            node_id=node.id,
        )
        return Caller(principal, services.engine)
    if given.startswith(MEMBER_PREFIX + "."):
        return Caller(_member_principal(services, given), services.engine)
    return Caller(_staff_principal(services, given), services.engine)


def current_caller(
    services: ServicesDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Resolve the Authorization header's bearer credential to a caller (401 if none)."""
    return authenticate(services, creds.credentials if creds else None)


class Allow:
    """The access rule of a route: the roles that may call it (403, audited, for others)."""

    def __init__(self, *roles: Role) -> None:
        if not roles:
            raise ValueError("a rule names at least one role; use PUBLIC for open routes")
        self.roles = tuple(r for r in Role if r in roles)

    def __call__(
        self, request: Request, caller: Annotated[Caller, Depends(current_caller)]
    ) -> Caller:
        """Admit the caller if their role is one of the rule's."""
        if caller.role not in self.roles:
            route = request.scope.get("route")
            template = route.path if isinstance(route, APIRoute) else request.url.path
            raise caller.deny(
                f"{request.method} {template}",
                request.url.path,
                None,
                f"{caller.role.value} may not call this",
            )
        return caller


class Public:
    """The rule of a route anyone may call: sign-in, enrolment, health, public texts."""

    def __call__(self) -> None:
        """Admit everyone."""


def allow(*roles: Role) -> Any:
    """The dependency of a route's caller parameter: `who: Annotated[Caller, allow(...)]`."""
    return Depends(Allow(*roles))


PUBLIC: Any = Depends(Public())
"""`dependencies=[PUBLIC]` on a route anyone may call."""

AdminDep = Annotated[Caller, allow(Role.ADMIN)]
StaffDep = Annotated[Caller, allow(*STAFF)]


def _rules(dependant: Any) -> Iterator[Allow | Public]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, Allow | Public):
            yield sub.call
        yield from _rules(sub)


def rule_of(route: APIRoute) -> Allow | Public:
    """The route's one access rule; RuntimeError when it declares none or several."""
    found = list(_rules(route.dependant))
    if len(found) != 1:
        methods = ",".join(sorted(route.methods or ()))
        raise RuntimeError(
            f"{methods} {route.path} declares {len(found)} access rules; give it exactly one "
            "(a caller parameter with allow(...), or dependencies=[PUBLIC])"
        )
    return found[0]


def roles_of(route: APIRoute) -> list[str]:
    """The roles that may call a route; ["public"] for anyone."""
    rule = rule_of(route)
    return ["public"] if isinstance(rule, Public) else [r.value for r in rule.roles]


def declare_access(routes: Iterable[BaseRoute]) -> None:
    """Check that each API route declares one access rule, and state its roles in the
    OpenAPI schema (`x-roles`, and a line of the description).

    Call it on a router's routes before the router is included anywhere.
    """
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        roles = roles_of(route)
        if (route.openapi_extra or {}).get("x-roles") == roles:
            continue  # declared already
        route.openapi_extra = {**(route.openapi_extra or {}), "x-roles": roles}
        line = "Roles: " + ", ".join(roles) + "."
        route.description = f"{route.description}\n\n{line}" if route.description else line
