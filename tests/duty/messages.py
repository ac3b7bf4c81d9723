"""Builders of wire messages for cloud-duty tests."""

from __future__ import annotations

from datetime import datetime

from station.contracts import (
    Event,
    EventKind,
    EventPhase,
    EventSeverity,
    NodeHealth,
    NodeTopics,
    SeenBox,
    TopicKind,
)
from station.duty.fleet.ingest import Inbound


def event(
    event_id: str,
    at: datetime,
    phase: EventPhase = EventPhase.NEW,
    seq: int = 0,
    node: str = "node-1",
    kind: EventKind = EventKind.FALL,
    zone: str = "room",
    severity: EventSeverity | None = None,
    boxes: list[SeenBox] | None = None,
) -> Event:
    """An event message."""
    return Event(
        event_id=event_id,
        node_id=node,
        camera_id="cam-1",
        kind=kind,
        phase=phase,
        seq=seq,
        ts=at,
        started_at=at,
        score=0.8,
        zone=zone,
        count=1,
        severity=severity,
        boxes=boxes or [],
    )


def health(at: datetime, node: str = "node-1") -> NodeHealth:
    """A heartbeat."""
    return NodeHealth(
        node_id=node,
        ts=at,
        uptime_s=10,
        inference_ms=50,
        cpu_percent=20,
        memory_mb=300,
        outbox_depth=0,
    )


def inbound(message: Event | NodeHealth) -> Inbound:
    """Wrap a message as the broker would deliver it."""
    kind = TopicKind.EVENT if isinstance(message, Event) else TopicKind.HEALTH
    return Inbound(NodeTopics(message.node_id).topic(kind), message.to_payload())
