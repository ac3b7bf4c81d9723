"""Stations, nodes, their broker logins, and remote commands to them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse
from sqlmodel import col, select

from station.duty.api.access import CallerDep
from station.duty.errors import UnavailableError
from station.duty.fleet import commands, node_credentials, registry
from station.duty.fleet.models import (
    CommandCreate,
    CommandPublic,
    CommandRecord,
    Node,
    NodeCreate,
    NodePublic,
    NodeState,
    Station,
    StationCreate,
    StationPublic,
)
from station.duty.listing import Page, PagingDep, filtered, paginate
from station.duty.people.audit import audit
from station.duty.people.models import Role
from station.duty.services import NowDep, ServicesDep, SessionDep

router = APIRouter(tags=["registry"])


@router.get("/stations")
def list_stations(
    session: SessionDep,
    paging: PagingDep,
    who: CallerDep,
    region: Annotated[str | None, Query(description="Only this region.")] = None,
) -> Page[StationPublic]:
    """List stations."""
    query = filtered(select(Station).order_by(col(Station.id)), Station, region=region)
    query = who.scoped(query, col(Station.id))
    return paginate(session, query, StationPublic, paging.limit, paging.offset)


@router.post("/stations", status_code=status.HTTP_201_CREATED)
def create_station(session: SessionDep, who: CallerDep, body: StationCreate) -> StationPublic:
    """Register a station (idempotent for the same body); admins only."""
    who.require_role("register station", Role.ADMIN)
    return StationPublic.model_validate(registry.create_station(session, body))


@router.get("/stations/{station_id}")
def get_station(session: SessionDep, who: CallerDep, station_id: str) -> StationPublic:
    """Return one station."""
    who.check_scope("read station", f"station {station_id}", station_id)
    return StationPublic.model_validate(registry.get_station(session, station_id))


@router.get("/nodes")
def list_nodes(
    session: SessionDep,
    paging: PagingDep,
    who: CallerDep,
    station_id: Annotated[str | None, Query(description="Only this station's nodes.")] = None,
    node_state: Annotated[NodeState | None, Query(alias="state")] = None,
) -> Page[NodePublic]:
    """List edge nodes with their liveness and last health report."""
    query = filtered(
        select(Node).order_by(col(Node.id)), Node, station_id=station_id, state=node_state
    )
    query = who.scoped(query, col(Node.station_id))
    return paginate(session, query, NodePublic, paging.limit, paging.offset)


@router.post("/nodes", status_code=status.HTTP_201_CREATED)
def create_node(
    services: ServicesDep, session: SessionDep, who: CallerDep, body: NodeCreate
) -> NodePublic:
    """Register an edge node of a station (idempotent for the same body); admins only."""
    who.require_role("register node", Role.ADMIN)
    node = registry.create_node(session, body)
    services.directory.forget(node.id)
    return NodePublic.model_validate(node)


@router.get("/nodes/{node_id}")
def get_node(session: SessionDep, who: CallerDep, node_id: str) -> NodePublic:
    """Return one node."""
    node = registry.get_node(session, node_id)
    who.check_scope("read node", f"node {node_id}", node.station_id)
    return NodePublic.model_validate(node)


@router.post("/nodes/{node_id}/credentials", status_code=status.HTTP_201_CREATED)
def issue_node_credentials(
    session: SessionDep, who: CallerDep, now: NowDep, node_id: str
) -> dict[str, str]:
    """Create or rotate a node's broker password (admins only); shown this once."""
    who.require_role("issue node credentials", Role.ADMIN)
    registry.get_node(session, node_id)
    issued = node_credentials.issue_credential(session, node_id, now)
    audit(session, who, "issue node credentials", f"node {node_id}")
    session.commit()
    return {"username": issued.username, "password": issued.password}


@router.get("/broker/password-file", response_class=PlainTextResponse)
def broker_password_file(session: SessionDep, who: CallerDep) -> str:
    """The cloud broker's password file for all nodes (admins only; hashes, no passwords)."""
    who.require_role("export broker passwords", Role.ADMIN)
    return node_credentials.password_file(session)


@router.post("/nodes/{node_id}/commands", status_code=status.HTTP_202_ACCEPTED, tags=["commands"])
def send_command(
    services: ServicesDep,
    session: SessionDep,
    who: CallerDep,
    now: NowDep,
    node_id: str,
    body: CommandCreate,
) -> CommandPublic:
    """Send a command (e.g. unlock the door) that the node refuses once it has expired."""
    node = registry.get_node(session, node_id)
    who.check_scope(f"command {body.name.value}", f"node {node_id}", node.station_id)
    publisher = services.ingest
    if publisher is None:
        raise UnavailableError("this replica has no broker link")
    record = commands.send_command(session, publisher, node, body, who.name, now)
    audit(
        session, who, f"command {body.name.value}", f"node {node_id}", node.station_id, body.reason
    )
    session.commit()
    return CommandPublic.model_validate(record)


@router.get("/nodes/{node_id}/commands", tags=["commands"])
def list_commands(session: SessionDep, who: CallerDep, node_id: str) -> list[CommandPublic]:
    """The node's latest commands and what it answered."""
    node = registry.get_node(session, node_id)
    who.check_scope("read commands", f"node {node_id}", node.station_id)
    rows = session.exec(
        select(CommandRecord)
        .where(CommandRecord.node_id == node_id)
        .order_by(col(CommandRecord.issued_at).desc())
        .limit(50)
    ).all()
    return [CommandPublic.model_validate(r) for r in rows]
