"""The cameras' open fire and smoke events, kept on disk so a restarted node holds the door.

A smoke detector's state is retained by the station broker and comes back after a restart by
itself; a fire only a camera saw does not: the new process knows nothing of it until its
models have loaded and looked again. Until then the rules act on what this file remembers.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vision.events import Hazard

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fire_hold (
    kind TEXT NOT NULL,
    camera_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (kind, camera_id)
)
"""


@dataclass(frozen=True)
class FireHold:
    """One camera's open fire or smoke event."""

    kind: Hazard
    camera_id: str
    event_id: str
    started_at: datetime


class FireHolds:
    """The open camera fire/smoke events in one SQLite file; each change committed at once."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the file, creating its folder if needed."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            # FULL: the hold survives a power cut, the case it exists for.
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA)

    def load(self) -> list[FireHold]:
        """Return every hold written and not yet dropped."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, camera_id, event_id, started_at FROM fire_hold ORDER BY started_at"
            ).fetchall()
        return [
            FireHold(Hazard(kind), camera_id, event_id, datetime.fromisoformat(started_at))
            for kind, camera_id, event_id, started_at in rows
        ]

    def put(self, hold: FireHold) -> None:
        """Remember one camera's open event (replacing an older one of its kind)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO fire_hold (kind, camera_id, event_id, started_at) "
                "VALUES (?, ?, ?, ?)",
                (hold.kind.value, hold.camera_id, hold.event_id, hold.started_at.isoformat()),
            )

    def drop(self, kind: Hazard, camera_id: str) -> None:
        """Forget one camera's event of this kind."""
        with self._lock:
            self._conn.execute(
                "DELETE FROM fire_hold WHERE kind = ? AND camera_id = ?", (kind.value, camera_id)
            )

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()
