"""Where every event of the node goes: translated once, into the outbox; camera fires also
to the local rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from edge.analysis import to_contract_event
from edge.devices.link import LocalSafety
from station.contracts import Event, SeenBox
from vision.events import HazardEvent

log = logging.getLogger(__name__)


class EventRouter:
    """Where every event of the node goes: translated once, into the outbox, and camera fires
    to the local rules directly."""

    def __init__(self, node_id: str, send: Callable[[str, Event], object], topic: str) -> None:
        """Send events of `node_id` through `send(topic, event)`."""
        self.node_id = node_id
        self._send = send
        self._topic = topic
        self._safety: LocalSafety | None = None

    def attach_safety(self, safety: LocalSafety) -> None:
        """Hand camera fires to these local rules from now on."""
        self._safety = safety

    def detach_safety(self) -> None:
        """Stop handing camera events to the local rules (the node is stopping: the ENDs it
        sends say the node stopped looking, not that a fire is out)."""
        self._safety = None

    def camera_looked(self, camera_id: str, at: datetime) -> None:
        """Tell the local rules a camera has looked long enough to have seen a fire again."""
        if self._safety is not None:
            self._safety.rules.on_looked(camera_id, at)

    def camera_event(
        self,
        camera_id: str,
        event: HazardEvent,
        *,
        has_snapshot: bool,
        snapshot_withheld: str = "",
        boxes: Sequence[SeenBox] = (),
    ) -> Event:
        """Send one camera's event; fire and smoke also drive the local rules."""
        if self._safety is not None:
            self._safety.rules.on_hazard(camera_id, event)
        wire = to_contract_event(
            self.node_id,
            event,
            camera_id=camera_id,
            has_snapshot=has_snapshot,
            snapshot_withheld=snapshot_withheld,
            boxes=boxes,
        )
        return self._emit(wire)

    def device_event(self, device_id: str, event: HazardEvent) -> Event:
        """Send one event the local rules raised about a device."""
        return self._emit(to_contract_event(self.node_id, event, device_id=device_id))

    def _emit(self, event: Event) -> Event:
        self._send(self._topic, event)
        log.info(
            "event %s %s %s seq=%d source=%s zone=%s count=%d score=%.2f %s",
            event.kind.value,
            event.phase.value,
            event.event_id,
            event.seq,
            event.source_id,
            event.zone,
            event.count,
            event.score,
            event.evidence,
        )
        return event
