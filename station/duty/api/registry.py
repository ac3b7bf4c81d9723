"""Stations and nodes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from sqlmodel import col, select

from station.duty import registry
from station.duty.account_models import Role
from station.duty.api.deps import (
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
