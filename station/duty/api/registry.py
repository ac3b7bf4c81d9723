"""Stations and nodes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import PlainTextResponse
from sqlmodel import col, select

from station.duty import node_credentials, registry
from station.duty.account_models import Role
from station.duty.api.deps import (
    NowDep,
    PagingDep,
    PrincipalDep,
    SessionDep,
    check_scope,
    conflict,
    not_found,
    require_role,
    scoped,
    state,
)
from station.duty.audit import audit
from station.duty.listing import filtered, paginate
from station.duty.models import (
    Node,
    NodeCreate,
    NodePublic,
    NodeState,
    Page,
    Station,
    StationCreate,
    StationPublic,
)

router = APIRouter(tags=["registry"])


@router.get("/stations")
def list_stations(
    session: SessionDep,
    paging: PagingDep,
    who: PrincipalDep,
    region: Annotated[str | None, Query(description="Only this region.")] = None,
) -> Page[StationPublic]:
    """List stations."""
    query = filtered(select(Station).order_by(col(Station.id)), Station, region=region)
    query = scoped(query, col(Station.id), who)
    return paginate(session, query, StationPublic, paging.limit, paging.offset)


@router.post("/stations", status_code=status.HTTP_201_CREATED)
def create_station(
    request: Request, session: SessionDep, who: PrincipalDep, body: StationCreate
) -> StationPublic:
    """Register a station (idempotent for the same body); admins only."""
    require_role(request, who, "register station", Role.ADMIN)
    try:
        return StationPublic.model_validate(registry.create_station(session, body))
    except registry.RegistryError as err:
        raise conflict(err) from err


@router.get("/stations/{station_id}")
def get_station(
    request: Request, session: SessionDep, who: PrincipalDep, station_id: str
) -> StationPublic:
    """Return one station."""
    check_scope(request, who, "read station", f"station {station_id}", station_id)
    try:
        return StationPublic.model_validate(registry.get_station(session, station_id))
    except registry.NotFoundError as err:
        raise not_found(err) from err


@router.get("/nodes")
def list_nodes(
    session: SessionDep,
    paging: PagingDep,
    who: PrincipalDep,
    station_id: Annotated[str | None, Query(description="Only this station's nodes.")] = None,
    node_state: Annotated[NodeState | None, Query(alias="state")] = None,
) -> Page[NodePublic]:
    """List edge nodes with their liveness and last health report."""
    query = filtered(
        select(Node).order_by(col(Node.id)), Node, station_id=station_id, state=node_state
    )
    query = scoped(query, col(Node.station_id), who)
    return paginate(session, query, NodePublic, paging.limit, paging.offset)


@router.post("/nodes", status_code=status.HTTP_201_CREATED)
def create_node(
    request: Request, session: SessionDep, who: PrincipalDep, body: NodeCreate
) -> NodePublic:
    """Register an edge node of a station (idempotent for the same body); admins only."""
    require_role(request, who, "register node", Role.ADMIN)
    try:
        node = registry.create_node(session, body)
    except registry.RegistryError as err:
        raise conflict(err) from err
    state(request, "directory").forget(node.id)
    return NodePublic.model_validate(node)


@router.get("/nodes/{node_id}")
def get_node(request: Request, session: SessionDep, who: PrincipalDep, node_id: str) -> NodePublic:
    """Return one node."""
    try:
        node = registry.get_node(session, node_id)
    except registry.NotFoundError as err:
        raise not_found(err) from err
    check_scope(request, who, "read node", f"node {node_id}", node.station_id)
    return NodePublic.model_validate(node)


@router.post("/nodes/{node_id}/credentials", status_code=status.HTTP_201_CREATED)
def issue_node_credentials(
    request: Request, session: SessionDep, who: PrincipalDep, now: NowDep, node_id: str
) -> dict[str, str]:
    """Create or rotate a node's broker password (admins only); shown this once."""
    require_role(request, who, "issue node credentials", Role.ADMIN)
    try:
        registry.get_node(session, node_id)
    except registry.NotFoundError as err:
        raise not_found(err) from err
    issued = node_credentials.issue_credential(session, node_id, now)
    audit(session, who, "issue node credentials", f"node {node_id}")
    session.commit()
    return {"username": issued.username, "password": issued.password}


@router.get("/broker/password-file", response_class=PlainTextResponse)
def broker_password_file(request: Request, session: SessionDep, who: PrincipalDep) -> str:
    """The cloud broker's password file for all nodes (admins only; hashes, no passwords)."""
    require_role(request, who, "export broker passwords", Role.ADMIN)
    return node_credentials.password_file(session)
