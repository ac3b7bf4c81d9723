"""A durable outbox: messages for the cloud wait in SQLite until the broker acknowledges them."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created_at REAL NOT NULL
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

    def __init__(self, path: Path) -> None:
        """Open (or create) the outbox file, creating its folder if needed."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the node's threads, serialised by a lock.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a put survives power loss, not only a killed process.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA)

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Append a message durably and return its id."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO outbox (topic, payload, qos, retain, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (topic, payload, qos, int(retain), time.time()),
            )
        row_id = cursor.lastrowid
        assert row_id is not None
        return row_id

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

    def depth(self) -> int:
        """Return how many messages wait."""
        with self._lock:
            (count,) = self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._conn.close()
