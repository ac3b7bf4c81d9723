"""A durable outbox: messages for the cloud wait in SQLite until cloud-duty receipts them.

The outbox is capped. When full, it evicts the oldest droppable message (a state report or a
snapshot: newer ones supersede it, and the event it illustrates is kept); hazard events,
visits and command results are never dropped, so those may take the outbox past its cap.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS: Final = 50_000
# Topic leaves whose messages a newer one supersedes, or which only illustrate an event.
_DROPPABLE_LEAVES: Final = ("/health", "/state")
_DROPPABLE_INFIX: Final = "/snapshot/"


def droppable(topic: str) -> bool:
    """Return whether the cap may evict a message on this topic (never an event or visit)."""
    return topic.endswith(_DROPPABLE_LEAVES) or _DROPPABLE_INFIX in topic


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_at REAL NOT NULL,
    droppable INTEGER NOT NULL DEFAULT 0
)
"""

# SQLite allows at most 999 bound parameters in older builds; stay below it.
_MAX_PARAMS = 900


@dataclass(frozen=True)
class OutboxRow:
    """One message waiting to go out."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_at: float


class Outbox:
    """A FIFO of MQTT messages in one SQLite file (WAL); each put is committed before it returns."""

    def __init__(self, path: Path, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        """Open (or create) the outbox file, creating its folder if needed."""
        self.path = Path(path)
        self.max_rows = max_rows
        self.dropped = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the node's threads, serialised by a lock.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a put survives power loss, not only a killed process.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA)
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(outbox)")}
            if "droppable" not in columns:
                # An outbox written before the cap: its rows count as never droppable.
                self._conn.execute(
                    "ALTER TABLE outbox ADD COLUMN droppable INTEGER NOT NULL DEFAULT 0"
                )
            self._conn.execute("CREATE INDEX IF NOT EXISTS outbox_droppable ON outbox (droppable)")

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Append a message durably and return its id; None if the cap refused a droppable one."""
        with self._lock:
            if not self._make_room(droppable(topic)):
                self.dropped += 1
                log.warning("outbox full (%d rows); dropped a message on %s", self.max_rows, topic)
                return None
            cursor = self._conn.execute(
                "INSERT INTO outbox (topic, payload, qos, retain, created_at, droppable) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (topic, payload, qos, int(retain), time.time(), int(droppable(topic))),
            )
        row_id = cursor.lastrowid
        assert row_id is not None
        return row_id

    def _make_room(self, new_is_droppable: bool) -> bool:
        """Evict the oldest droppable row when full; False if the new row must be refused."""
        (count,) = self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
        if count < self.max_rows:
            return True
        evicted = self._conn.execute(
            "DELETE FROM outbox WHERE id = "
            "(SELECT id FROM outbox WHERE droppable = 1 ORDER BY id LIMIT 1)"
        ).rowcount
        if evicted:
            self.dropped += 1
            log.warning("outbox full (%d rows); evicted its oldest droppable message", count)
            return True
        # Nothing droppable is left: a hazard event goes in past the cap, a report does not.
        return not new_is_droppable

    def pending(self, limit: int = 100, exclude: Collection[int] = ()) -> list[OutboxRow]:
        """Return up to `limit` of the oldest messages, skipping the ids in `exclude`."""
        if limit <= 0:
            return []
        # Exclusions are the in-flight rows, all near the head: fetch past them, filter here.
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, topic, payload, qos, retain, created_at FROM outbox "
                "ORDER BY id LIMIT ?",
                (limit + len(exclude),),
            ).fetchall()
        found = [
            OutboxRow(int(r[0]), str(r[1]), bytes(r[2]), int(r[3]), bool(r[4]), float(r[5]))
            for r in rows
            if r[0] not in exclude
        ]
        return found[:limit]

    def delete(self, ids: Iterable[int]) -> None:
        """Remove acknowledged messages."""
        todo = list(ids)
        with self._lock:
            for start in range(0, len(todo), _MAX_PARAMS):
                chunk = todo[start : start + _MAX_PARAMS]
                marks = ",".join("?" * len(chunk))
                self._conn.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chunk)  # noqa: S608

    def purge_older_than(self, cutoff: float) -> int:
        """Drop messages queued before `cutoff` (Unix time) that no receipt ever cleared."""
        with self._lock:
            gone = self._conn.execute("DELETE FROM outbox WHERE created_at < ?", (cutoff,)).rowcount
        if gone:
            log.warning("retention: dropped %d message(s) the cloud never receipted", gone)
        return int(gone)

    def depth(self) -> int:
        """Return how many messages wait."""
        with self._lock:
            (count,) = self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(count)

    def oldest_age_s(self) -> float | None:
        """Return how long the oldest waiting message has waited, or None when empty."""
        with self._lock:
            (oldest,) = self._conn.execute("SELECT MIN(created_at) FROM outbox").fetchone()
        return None if oldest is None else max(0.0, time.time() - float(oldest))

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._conn.close()
