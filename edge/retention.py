"""The node's own retention: old door decisions in the entry state file and messages the
cloud never receipted in the outbox go after their periods (`retention` in the config)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from edge.config import RetentionConfig

log = logging.getLogger(__name__)


class DoorLog(Protocol):
    """The entry state file's door log (edge.entry.store.EntryStore)."""

    def purge_audit(self, before: datetime) -> int:
        """Delete decisions made before `before`."""
        ...


class QueuedMessages(Protocol):
    """The durable outbox (edge.link.outbox.Outbox)."""

    def purge_older_than(self, cutoff: float) -> int:
        """Drop messages queued before `cutoff` (Unix time)."""
        ...


@dataclass(frozen=True)
class LocalPurge:
    """What one run removed."""

    door_decisions: int
    outbox_messages: int


class LocalRetention:
    """Runs the purge at most every `every_h` hours; the caller gives the time."""

    def __init__(
        self, config: RetentionConfig, outbox: QueuedMessages, door_log: DoorLog | None = None
    ) -> None:
        """Purge `outbox` and, if the node has entry, its door log."""
        self._config = config
        self._outbox = outbox
        self._door_log = door_log
        self._last: datetime | None = None

    def maybe_run(self, now: datetime) -> LocalPurge | None:
        """Purge if the last run is long enough ago (or there was none); None otherwise."""
        if self._last is not None and now - self._last < timedelta(hours=self._config.every_h):
            return None
        self._last = now
        door = 0
        if self._door_log is not None:
            door = self._door_log.purge_audit(now - timedelta(days=self._config.door_log_days))
        cutoff = (now - timedelta(days=self._config.outbox_days)).timestamp()
        purge = LocalPurge(door, self._outbox.purge_older_than(cutoff))
        if purge.door_decisions or purge.outbox_messages:
            log.info("retention: %s", purge)
        return purge
