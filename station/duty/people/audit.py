"""The audit log: every action on an alert or a door, every read of personal data."""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from station.duty.people.models import AuditEntry

logger = logging.getLogger(__name__)


class Actor(Protocol):
    """Whoever acts: a signed-in caller or a principal; only the name goes in the log."""

    @property
    def name(self) -> str:
        """The name the audit log records."""
        ...


def audit(
    session: Session,
    who: Actor | str,
    action: str,
    target: str = "",
    station_id: str | None = None,
    detail: str = "",
) -> None:
    """Add an allowed action to the log, committed with the caller's transaction."""
    actor = who if isinstance(who, str) else who.name
    session.add(
        AuditEntry(actor=actor, action=action, target=target, station_id=station_id, detail=detail)
    )


def audit_denied(
    engine: Engine, who: Actor | str, action: str, target: str, station_id: str | None
) -> None:
    """Log a refused attempt in its own transaction, since the request itself fails."""
    actor = who if isinstance(who, str) else who.name
    logger.warning("denied %s to %s on %s", action, actor, target)
    with Session(engine) as session:
        session.add(
            AuditEntry(
                actor=actor, action=action, target=target, station_id=station_id, outcome="denied"
            )
        )
        session.commit()
