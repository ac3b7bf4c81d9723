"""Remote commands to a node: door unlock with a reason, and their outcomes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlmodel import col, select

from station.duty import commands, registry
from station.duty.api.deps import NowDep, PrincipalDep, SessionDep, check_scope, not_found, state
from station.duty.audit import audit
from station.duty.command_models import CommandCreate, CommandPublic, CommandRecord

router = APIRouter(tags=["commands"])


@router.post("/nodes/{node_id}/commands", status_code=status.HTTP_202_ACCEPTED)
def send_command(
    request: Request,
    session: SessionDep,
    who: PrincipalDep,
    now: NowDep,
    node_id: str,
    body: CommandCreate,
) -> CommandPublic:
    """Send a command (e.g. unlock the door) that the node refuses once it has expired."""
    try:
        node = registry.get_node(session, node_id)
    except registry.NotFoundError as err:
        raise not_found(err) from err
    check_scope(request, who, f"command {body.name.value}", f"node {node_id}", node.station_id)
    publisher = state(request, "ingest")
    if publisher is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "this replica has no broker link")
    record = commands.send_command(session, publisher, node, body, who.name, now)
    audit(
        session, who, f"command {body.name.value}", f"node {node_id}", node.station_id, body.reason
    )
    session.commit()
    return CommandPublic.model_validate(record)


@router.get("/nodes/{node_id}/commands")
def list_commands(
    request: Request, session: SessionDep, who: PrincipalDep, node_id: str
) -> list[CommandPublic]:
    """The node's latest commands and what it answered."""
    try:
        node = registry.get_node(session, node_id)
    except registry.NotFoundError as err:
        raise not_found(err) from err
    check_scope(request, who, "read commands", f"node {node_id}", node.station_id)
    rows = session.exec(
        select(CommandRecord)
        .where(CommandRecord.node_id == node_id)
        .order_by(col(CommandRecord.issued_at).desc())
        .limit(50)
    ).all()
    return [CommandPublic.model_validate(r) for r in rows]
