"""Node liveness and reports: birth, last will, heartbeats, device states, the offline check."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import JSON, Table, bindparam, text, update
from sqlmodel import Session, col, select

from station.contracts import NodeHealth, NodeState, NodeStatus, StationState
from station.duty.alerting.alert_book import AlertBook
from station.duty.alerting.alerts import STATION_OFFLINE, event_severity
from station.duty.fleet.models import Node
from station.duty.fleet.models import NodeState as StoredState

logger = logging.getLogger(__name__)

_LIVENESS_LOCK = 0x55575302
_PG_HEARTBEATS = text(
    "UPDATE node SET last_seen_at = :now, state = 'online', health = beat.health "
    "FROM unnest(CAST(:ids AS varchar[]), CAST(:healths AS json[])) AS beat(id, health) "
    "WHERE node.id = beat.id"
)


def apply_heartbeats(
    session: Session, book: AlertBook, beats: dict[str, NodeHealth], now: datetime
) -> None:
    """Record the newest heartbeat of each node; a node that was offline comes back."""
    if not beats:
        return
    returning = session.exec(
        select(Node).where(col(Node.id).in_(beats.keys()), Node.state != StoredState.ONLINE)
    ).all()
    # A fleet coming back (after a WAN cut, say) reads its offline alerts in one query.
    book.lock({(node.station_id, STATION_OFFLINE, node.id) for node in returning})
    for node in returning:
        _mark_online(book, node, now)
    ids = list(beats)
    healths = [beats[n].model_dump_json(by_alias=True) for n in ids]
    if session.get_bind().dialect.name == "postgresql":
        # One statement over two arrays: one round trip, and a plan PostgreSQL caches.
        session.execute(_PG_HEARTBEATS, {"now": now, "ids": ids, "healths": healths})
        return
    table: Table = Node.__table__  # type: ignore[attr-defined]  # set by SQLModel at runtime
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("node_id"))
        .values(last_seen_at=now, state=StoredState.ONLINE, health=bindparam("beat", type_=JSON)),
        [{"node_id": n, "beat": json.loads(h)} for n, h in zip(ids, healths, strict=True)],
    )


def apply_device_states(session: Session, states: dict[str, StationState]) -> None:
    """Keep each node's latest report of its station's devices."""
    for node_id, state in states.items():
        node = session.get(Node, node_id)
        if node is not None:
            node.devices = state
            session.add(node)


def apply_status(
    session: Session, book: AlertBook, station_id: str, status: NodeStatus, now: datetime
) -> None:
    """Apply a birth or last-will message."""
    node = session.get(Node, status.node_id)
    if node is None:
        return
    if status.state is NodeState.ONLINE:
        if status.version:
            node.version = status.version
        _mark_online(book, node, now)
        node.last_seen_at = now
    elif node.state is not StoredState.OFFLINE:
        _mark_offline(book, station_id, node, now, status.reason)
    session.add(node)


def _mark_online(book: AlertBook, node: Node, now: datetime) -> None:
    if node.state is not StoredState.ONLINE:
        logger.info("node %s is online", node.id)
    node.state = StoredState.ONLINE
    alert = book.open_alert(node.station_id, STATION_OFFLINE, node.id)
    if alert is not None and alert.active:
        book.clear(alert, now)


def _mark_offline(book: AlertBook, station_id: str, node: Node, now: datetime, why: str) -> None:
    logger.warning("node %s of station %s is offline (%s)", node.id, station_id, why)
    node.state = StoredState.OFFLINE
    book.raise_alert(station_id, STATION_OFFLINE, node.id, now, 1.0, f"offline-{node.id}")


def mark_silent_nodes_offline(
    session: Session, book: AlertBook, now: datetime, silence: timedelta
) -> list[str]:
    """Flag online nodes not heard from within `silence`; runs on one replica at a time."""
    if session.get_bind().dialect.name == "postgresql":
        locked = session.exec(  # type: ignore[call-overload]
            text("SELECT pg_try_advisory_xact_lock(:k)"), params={"k": _LIVENESS_LOCK}
        ).scalar()
        if not locked:
            return []
    silent = session.exec(
        select(Node).where(Node.state == StoredState.ONLINE, col(Node.last_seen_at) < now - silence)
    ).all()
    keys = {(node.station_id, STATION_OFFLINE, node.id) for node in silent}
    book.lock(keys, reopen_from=now)
    # A city's WAN cut takes thousands of nodes at once: their alerts open in one INSERT.
    book.open_all(dict.fromkeys(keys, (now, event_severity(STATION_OFFLINE, None))))
    for node in silent:
        _mark_offline(book, node.station_id, node, now, "missed heartbeats")
        session.add(node)
    book.post()
    return [node.id for node in silent]
