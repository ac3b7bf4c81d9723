"""The audit log: every action on an alert or a door, every read of personal data."""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.contracts import DoorDecision, DoorOutcome
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
    session.add(_entry(who, action, target, station_id, detail, "ok"))


def _entry(
    who: Actor | str,
    action: str,
    target: str,
    station_id: str | None,
    detail: str,
    outcome: str,
) -> AuditEntry:
    """One line, each field cut to its column (names of nodes and members can be long)."""
    actor = who if isinstance(who, str) else who.name
    return AuditEntry(
        actor=actor[:64],
        action=action[:64],
        target=target[:128],
        station_id=station_id[:64] if station_id else station_id,
        outcome=outcome,
        detail=detail[:500],
    )


def audit_denied(
    engine: Engine,
    who: Actor | str,
    action: str,
    target: str,
    station_id: str | None,
    detail: str = "",
) -> None:
    """Log a refused attempt in its own transaction, since the request itself fails."""
    entry = _entry(who, action, target, station_id, detail, "denied")
    logger.warning("denied %s to %s on %s: %s", entry.action, entry.actor, target, detail)
    with Session(engine) as session:
        session.add(entry)
        session.commit()


def apply_door_decisions(
    session: Session, stations: dict[str, str], decisions: list[DoorDecision]
) -> int:
    """Add the nodes' door decisions to the audit log (a refusal as `denied`, with its
    reason); a line redelivered is stored once. Returns how many were added."""
    if not decisions:
        return 0
    actors = sorted({f"node:{d.node_id}" for d in decisions})
    seen = {
        detail.split(":", 1)[0]
        for detail in session.exec(
            select(AuditEntry.detail).where(
                col(AuditEntry.actor).in_(actors),
                col(AuditEntry.at).in_(sorted({d.at for d in decisions})),
            )
        )
    }
    added = 0
    for decision in decisions:
        if decision.decision_id in seen:
            continue
        seen.add(decision.decision_id)
        entry = _entry(
            f"node:{decision.node_id}",
            f"door.{decision.outcome.value}",
            decision.member_id or f"node {decision.node_id}",
            stations[decision.node_id],
            f"{decision.decision_id}: {decision.method.value}, {decision.reason}",
            "denied" if decision.outcome is DoorOutcome.REFUSED else "ok",
        )
        entry.at = decision.at
        session.add(entry)
        added += 1
    return added
