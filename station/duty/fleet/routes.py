"""Stations, nodes, their broker logins, and remote commands to them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse
from sqlmodel import col, select

from station.duty.api.access import PUBLIC, STAFF, AdminDep, Caller, StaffDep, allow
from station.duty.errors import UnavailableError
from station.duty.fleet import commands, node_credentials, registry
from station.duty.fleet.models import (
    CommandCreate,
    CommandPublic,
    CommandRecord,
    Enrolled,
    EnrolmentCode,
    EnrolRequest,
    Node,
    NodeCreate,
    NodeCredentialsIssued,
    NodePublic,
    NodeState,
    Station,
    StationCreate,
    StationPublic,
)
from station.duty.listing import Page, PagingDep, filtered, paginate
from station.duty.people.audit import audit, audit_denied
from station.duty.people.models import Role
from station.duty.services import NowDep, ServicesDep, SessionDep

NodeOrStaff = Annotated[Caller, allow(*STAFF, Role.NODE)]

router = APIRouter(tags=["registry"])


@router.get("/stations")
def list_stations(
    session: SessionDep,
    paging: PagingDep,
    who: StaffDep,
    region: Annotated[str | None, Query(description="Only this region.")] = None,
) -> Page[StationPublic]:
    """List stations."""
    query = filtered(select(Station).order_by(col(Station.id)), Station, region=region)
    query = who.scoped(query, col(Station.id))
    return paginate(session, query, StationPublic, paging.limit, paging.offset)


@router.post("/stations", status_code=status.HTTP_201_CREATED)
def create_station(session: SessionDep, who: AdminDep, body: StationCreate) -> StationPublic:
    """Register a station (idempotent for the same body); admins only."""
    audit(session, who, "register station", f"station {body.id}", body.id)
    return StationPublic.model_validate(registry.create_station(session, body))


@router.get("/stations/{station_id}")
def get_station(session: SessionDep, who: StaffDep, station_id: str) -> StationPublic:
    """Return one station."""
    who.check_scope("read station", f"station {station_id}", station_id)
    return StationPublic.model_validate(registry.get_station(session, station_id))


@router.get("/nodes")
def list_nodes(
    session: SessionDep,
    paging: PagingDep,
    who: StaffDep,
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
    services: ServicesDep, session: SessionDep, who: AdminDep, body: NodeCreate
) -> NodePublic:
    """Register an edge node of a station (idempotent for the same body); admins only.
    Then give its installer an enrolment code (POST /nodes/{node_id}/enrolment)."""
    audit(session, who, "register node", f"node {body.id}", body.station_id)
    node = registry.create_node(session, body)
    services.directory.forget(node.id)
    return NodePublic.model_validate(node)


@router.get("/nodes/{node_id}")
def get_node(session: SessionDep, who: NodeOrStaff, node_id: str) -> NodePublic:
    """Return one node (a node: itself only)."""
    node = registry.get_node(session, node_id)
    who.check_node("read node", node_id, node.station_id)
    return NodePublic.model_validate(node)


@router.post("/nodes/{node_id}/credentials", status_code=status.HTTP_201_CREATED)
def issue_node_credentials(
    session: SessionDep, who: AdminDep, now: NowDep, node_id: str
) -> NodeCredentialsIssued:
    """Create or rotate a node's broker password and its own API credential together
    (admins only); shown this once. The old API credential stops working at once."""
    node = registry.get_node(session, node_id)
    issued = node_credentials.issue_credential(session, node_id, now)
    audit(session, who, "issue node credentials", f"node {node_id}", node.station_id)
    session.commit()
    return NodeCredentialsIssued(
        node_id=node_id,
        station_id=node.station_id,
        username=issued.username,
        password=issued.password,
        api_token=issued.api_token,
    )


@router.delete("/nodes/{node_id}/credentials", status_code=status.HTTP_204_NO_CONTENT)
def revoke_node_credentials(session: SessionDep, who: AdminDep, node_id: str) -> None:
    """Revoke a node's API credential and broker login (a lost or stolen box); its broker
    login goes on the next password-file export."""
    node = registry.get_node(session, node_id)
    node_credentials.revoke_credential(session, node_id)
    audit(session, who, "revoke node credentials", f"node {node_id}", node.station_id)
    session.commit()


@router.post("/nodes/{node_id}/enrolment", status_code=status.HTTP_201_CREATED)
def new_enrolment_code(
    services: ServicesDep, session: SessionDep, who: AdminDep, now: NowDep, node_id: str
) -> EnrolmentCode:
    """A one-time enrolment code for the node's installer (admins only), shown this once:
    `station edge enrol --code ...` exchanges it for the node's credentials."""
    node = registry.get_node(session, node_id)
    ttl = timedelta(hours=services.settings.enrolment_code_ttl_h)
    code, expires = node_credentials.new_enrolment_code(session, node_id, who.name, now, ttl)
    audit(session, who, "node enrolment code", f"node {node_id}", node.station_id)
    session.commit()
    return EnrolmentCode(node_id=node_id, code=code, expires_at=expires)


@router.post("/enrol", dependencies=[PUBLIC])
def enrol(services: ServicesDep, session: SessionDep, now: NowDep, body: EnrolRequest) -> Enrolled:
    """A node exchanges its one-time enrolment code for its credentials (broker login and
    API credential) and the entry keys; the code is spent. Refusals are audited."""
    try:
        node, issued = node_credentials.redeem_enrolment_code(session, body.code, now)
    except node_credentials.EnrolmentRefusedError as err:
        audit_denied(services.engine, "enrolment", "node enrolment", "", None, str(err))
        raise
    station = registry.get_station(session, node.station_id)
    audit(session, f"node:{node.id}", "node enrolled", f"node {node.id}", node.station_id)
    session.commit()
    services.directory.forget(node.id)
    return Enrolled(
        node_id=node.id,
        station_id=node.station_id,
        region=station.region,
        username=issued.username,
        password=issued.password,
        api_token=issued.api_token,
        entry_public_keys=services.keys.public_keys,
    )


@router.get("/broker/password-file", response_class=PlainTextResponse)
def broker_password_file(session: SessionDep, who: AdminDep) -> str:
    """The cloud broker's password file for all nodes (admins only; hashes, no passwords)."""
    audit(session, who, "export broker passwords")
    session.commit()
    return node_credentials.password_file(session)


@router.post("/nodes/{node_id}/commands", status_code=status.HTTP_202_ACCEPTED, tags=["commands"])
def send_command(
    services: ServicesDep,
    session: SessionDep,
    who: StaffDep,
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
def list_commands(session: SessionDep, who: NodeOrStaff, node_id: str) -> list[CommandPublic]:
    """The node's latest commands and what it answered (a node: its own)."""
    node = registry.get_node(session, node_id)
    who.check_node("read commands", node_id, node.station_id)
    rows = session.exec(
        select(CommandRecord)
        .where(CommandRecord.node_id == node_id)
        .order_by(col(CommandRecord.issued_at).desc())
        .limit(50)
    ).all()
    return [CommandPublic.model_validate(r) for r in rows]
