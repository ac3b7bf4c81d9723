"""Remote commands: sent to a node over MQTT with an expiry, answered by its result."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Protocol

from sqlmodel import Session

from station.contracts import Command, CommandResult
from station.duty.fleet.models import CommandCreate, CommandRecord, Node

logger = logging.getLogger(__name__)


class CommandPublisher(Protocol):
    """Puts a command on the node's cmd topic (QoS 1, never retained)."""

    def publish_command(self, node_id: str, command: Command) -> None:
        """Send it, or queue it until the broker link is back."""
        ...


def send_command(
    session: Session,
    publisher: CommandPublisher,
    node: Node,
    body: CommandCreate,
    issued_by: str,
    now: datetime,
) -> CommandRecord:
    """Record the command, then publish it; the node refuses it once expired."""
    command = Command(
        cmd_id=uuid.uuid4().hex,
        name=body.name,
        issued_by=issued_by,
        reason=body.reason,
        issued_at=now,
        expires_at=now + timedelta(seconds=body.ttl_s),
    )
    record = CommandRecord(
        id=command.cmd_id,
        node_id=node.id,
        station_id=node.station_id,
        name=body.name.value,
        reason=body.reason,
        issued_by=issued_by,
        issued_at=now,
        expires_at=command.expires_at,
    )
    session.add(record)
    session.flush()
    publisher.publish_command(node.id, command)
    return record


def apply_result(session: Session, result: CommandResult) -> None:
    """Store a node's answer to a command it was sent; others are logged and dropped."""
    record = session.get(CommandRecord, result.cmd_id)
    if record is None or record.node_id != result.node_id:
        logger.warning("result for unknown command %s from %s", result.cmd_id, result.node_id)
        return
    record.outcome = result.outcome.value
    record.detail = result.detail
    record.answered_at = result.ts
    session.add(record)
    logger.info("command %s on %s: %s", result.cmd_id, result.node_id, result.outcome.value)
