"""The node's entry state in one SQLite file: replay cache, revocations, printed cards' use
counters, open visits and the audit log.

It survives a restart: a token used once stays used until it expires, a revoked member or
card stays revoked until cloud-duty says otherwise, a card's uses this minute stay counted,
a visit open at a restart is still open after it (so its exit is still seen), and every door
decision is kept for the audit.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from station.contracts import Visit, decode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS used_nonce (
    nonce TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked_member (
    member_id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS open_visit (
    visit_id TEXT PRIMARY KEY,
    entered_at REAL NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked_card (
    card_id TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS card_use (
    card_id TEXT NOT NULL,
    door TEXT NOT NULL,
    minute INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    PRIMARY KEY (card_id, door, minute)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    method TEXT NOT NULL,
    member_id TEXT,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class AuditEntry:
    """One door decision."""

    at: datetime
    method: str
    member_id: str | None
    outcome: str
    reason: str


class EntryStore:
    """Durable entry state; safe to share between the node's threads."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the state file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()

    def use_nonce(self, nonce: str, expires_at: datetime, now: datetime) -> bool:
        """Mark a token's nonce used; return False if it was used before (a replay)."""
        with self._lock:
            self._conn.execute("DELETE FROM used_nonce WHERE expires_at < ?", (now.timestamp(),))
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO used_nonce (nonce, expires_at) VALUES (?, ?)",
                (nonce, expires_at.timestamp()),
            )
        return cursor.rowcount == 1

    def set_revoked(self, member_ids: set[str]) -> None:
        """Replace the revocation list with cloud-duty's current one."""
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.execute("DELETE FROM revoked_member")
            self._conn.executemany(
                "INSERT INTO revoked_member (member_id) VALUES (?)", [(m,) for m in member_ids]
            )
            self._conn.execute("COMMIT")

    def set_revoked_cards(self, card_ids: set[str]) -> None:
        """Replace the revoked printed cards with cloud-duty's current list."""
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.execute("DELETE FROM revoked_card")
            self._conn.executemany(
                "INSERT INTO revoked_card (card_id) VALUES (?)", [(c,) for c in card_ids]
            )
            self._conn.execute("COMMIT")

    def is_card_revoked(self, card_id: str) -> bool:
        """Return whether a printed card is revoked."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM revoked_card WHERE card_id = ?", (card_id,)
            ).fetchone()
        return row is not None

    def use_card(self, card_id: str, door: str, now: datetime, limit: int) -> bool:
        """Count one use of a card at a door in this minute; False (not counted) past `limit`.

        A copied card is as good as the original: the limit bounds what a copy can open.
        """
        minute = int(now.timestamp() // 60)
        with self._lock:
            self._conn.execute("DELETE FROM card_use WHERE minute < ?", (minute - 1,))
            cursor = self._conn.execute(
                "INSERT INTO card_use (card_id, door, minute, uses) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (card_id, door, minute) DO UPDATE SET uses = uses + 1 "
                "WHERE uses < ?",
                (card_id, door, minute, limit),
            )
        return cursor.rowcount == 1

    def is_revoked(self, member_id: str) -> bool:
        """Return whether a member is on the revocation list."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM revoked_member WHERE member_id = ?", (member_id,)
            ).fetchone()
        return row is not None

    def keep_open_visit(self, visit: Visit) -> None:
        """Remember a visit that has begun, until its exit."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO open_visit (visit_id, entered_at, payload) "
                "VALUES (?, ?, ?)",
                (visit.visit_id, visit.entered_at.timestamp(), visit.to_payload().decode()),
            )

    def end_open_visit(self, visit_id: str) -> None:
        """Forget a visit that has ended."""
        with self._lock:
            self._conn.execute("DELETE FROM open_visit WHERE visit_id = ?", (visit_id,))

    def open_visits(self) -> list[Visit]:
        """Return the visits still open, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT payload FROM open_visit ORDER BY entered_at, visit_id"
            ).fetchall()
        return [decode(Visit, row[0].encode()) for row in rows]

    def audit(self, entry: AuditEntry) -> None:
        """Append one decision to the audit log."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO audit (at, method, member_id, outcome, reason) VALUES (?, ?, ?, ?, ?)",
                (entry.at.timestamp(), entry.method, entry.member_id, entry.outcome, entry.reason),
            )

    def purge_audit(self, before: datetime) -> int:
        """Delete door decisions made before `before`; return how many went."""
        with self._lock:
            cursor = self._conn.execute("DELETE FROM audit WHERE at < ?", (before.timestamp(),))
        return int(cursor.rowcount)

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """Return the newest decisions, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT at, method, member_id, outcome, reason FROM audit ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            AuditEntry(datetime.fromtimestamp(r[0], UTC), r[1], r[2], r[3], r[4])
            for r in reversed(rows)
        ]
