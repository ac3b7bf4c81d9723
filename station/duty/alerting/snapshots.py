"""Blurred JPEG snapshots of events, kept by node and event, and expired.

Storages behind one Protocol: a local folder (one replica, SQLite pilots), the database
(PostgreSQL: every replica reads what any replica stored) and an S3-compatible object store
(`station.duty.alerting.snapshot_s3`, shared too, without growing the database).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import Engine
from sqlmodel import Session, col, delete

from station.contracts import MAX_SNAPSHOT_BYTES, ContractError, utcnow
from station.duty.alerting.models import SnapshotRecord

logger = logging.getLogger(__name__)

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_JPEG_MAGIC = b"\xff\xd8\xff"
# S3's rules for a bucket name (lower case, 3-63 characters, no leading or trailing dot).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9_.\-/]*$")


@dataclass(frozen=True)
class StoreLocation:
    """Where in an S3-compatible store snapshots go: a bucket and a key prefix."""

    bucket: str
    prefix: str  # "" or ending in "/"

    def key(self, node_id: str, event_id: str) -> str:
        """The object key of an event's snapshot: `<prefix><node>/<event>.jpg`."""
        if not (_SAFE.match(node_id) and _SAFE.match(event_id)):
            raise ContractError("snapshot ids must be plain identifiers")
        return f"{self.prefix}{node_id}/{event_id}.jpg"


def parse_store_url(url: str) -> StoreLocation:
    """Read `s3://bucket[/prefix]`; refuse anything else with a message saying what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme != "s3":
        raise ValueError(f"snapshot store URL must start with s3:// (got {parts.scheme!r}://)")
    if "@" in parts.netloc:
        # A URL is easily logged; the secret key has its own setting.
        raise ValueError("snapshot store URL must not carry credentials; use the key settings")
    if not parts.netloc:
        raise ValueError("snapshot store URL names no bucket: use s3://bucket/prefix")
    if not _BUCKET.match(parts.netloc):
        raise ValueError(f"snapshot store bucket {parts.netloc!r} is not a valid bucket name")
    if parts.query or parts.fragment:
        raise ValueError("snapshot store URL takes no query or fragment")
    prefix = parts.path.strip("/")
    if not _PREFIX.match(prefix) or "//" in prefix or ".." in prefix.split("/"):
        raise ValueError(f"snapshot store prefix {prefix!r} is not a plain path")
    return StoreLocation(parts.netloc, f"{prefix}/" if prefix else "")


class SnapshotStorage(Protocol):
    """Where event snapshots are kept."""

    def save(self, node_id: str, event_id: str, data: bytes) -> None:
        """Check the bytes are a JPEG of sane size and store them."""

    def load(self, node_id: str, event_id: str) -> bytes | None:
        """Return the snapshot of an event, or None if there is none."""

    def purge(self, older_than: timedelta) -> int:
        """Delete snapshots older than the retention; return how many went."""


def check_snapshot(node_id: str, event_id: str, data: bytes) -> None:
    """Refuse ids that are not plain identifiers and bytes that are not a sane JPEG."""
    if not (_SAFE.match(node_id) and _SAFE.match(event_id)):
        raise ContractError("snapshot ids must be plain identifiers")
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise ContractError(f"snapshot of {len(data)} bytes exceeds {MAX_SNAPSHOT_BYTES}")
    if not data.startswith(_JPEG_MAGIC):
        raise ContractError("snapshot is not a JPEG")


class DatabaseSnapshots:
    """Snapshots in the `snapshot` table (bytea on PostgreSQL), shared by every replica."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, node_id: str, event_id: str, data: bytes) -> None:
        """Check the bytes are a JPEG of sane size and store them (a re-send replaces)."""
        check_snapshot(node_id, event_id, data)
        with Session(self._engine) as session:
            session.merge(
                SnapshotRecord(node_id=node_id, event_id=event_id, jpeg=data, stored_at=utcnow())
            )
            session.commit()

    def load(self, node_id: str, event_id: str) -> bytes | None:
        """Return the snapshot of an event, or None if there is none."""
        with Session(self._engine) as session:
            record = session.get(SnapshotRecord, (node_id, event_id))
            return None if record is None else bytes(record.jpeg)

    def purge(self, older_than: timedelta) -> int:
        """Delete snapshots older than the retention; return how many went."""
        cutoff = utcnow() - older_than
        with Session(self._engine) as session:
            result = session.exec(
                delete(SnapshotRecord).where(col(SnapshotRecord.stored_at) < cutoff)
            )
            session.commit()
        removed = int(result.rowcount)
        if removed:
            logger.info("retention: deleted %d snapshot(s)", removed)
        return removed


class SnapshotStore:
    """Files under `root/<node>/<event>.jpg`, written atomically; one replica's disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, node_id: str, event_id: str) -> Path:
        """Where the snapshot of an event is (or would be) kept."""
        if not (_SAFE.match(node_id) and _SAFE.match(event_id)):
            raise ContractError("snapshot ids must be plain identifiers")
        return self.root / node_id / f"{event_id}.jpg"

    def save(self, node_id: str, event_id: str, data: bytes) -> None:
        """Check the bytes are a JPEG of sane size and store them."""
        check_snapshot(node_id, event_id, data)
        target = self.path(node_id, event_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, target)

    def load(self, node_id: str, event_id: str) -> bytes | None:
        """Return the snapshot of an event, or None if there is none."""
        path = self.path(node_id, event_id)
        return path.read_bytes() if path.is_file() else None

    def purge(self, older_than: timedelta) -> int:
        """Delete snapshots older than the retention; return how many went."""
        if not self.root.exists():
            return 0
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        for file in self.root.glob("*/*.jpg"):
            if file.stat().st_mtime < cutoff:
                file.unlink(missing_ok=True)
                removed += 1
        if removed:
            logger.info("retention: deleted %d snapshot(s)", removed)
        return removed
