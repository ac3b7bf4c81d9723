"""Blurred JPEG snapshots of events, kept on disk by node and event, and expired."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from station.contracts import MAX_SNAPSHOT_BYTES, ContractError

logger = logging.getLogger(__name__)

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_JPEG_MAGIC = b"\xff\xd8\xff"


class SnapshotStore:
    """Files under `root/<node>/<event>.jpg`, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, node_id: str, event_id: str) -> Path:
        """Where the snapshot of an event is (or would be) kept."""
        if not (_SAFE.match(node_id) and _SAFE.match(event_id)):
            raise ContractError("snapshot ids must be plain identifiers")
        return self.root / node_id / f"{event_id}.jpg"

    def save(self, node_id: str, event_id: str, data: bytes) -> Path:
        """Check the bytes are a JPEG of sane size and store them."""
        if len(data) > MAX_SNAPSHOT_BYTES:
            raise ContractError(f"snapshot of {len(data)} bytes exceeds {MAX_SNAPSHOT_BYTES}")
        if not data.startswith(_JPEG_MAGIC):
            raise ContractError("snapshot is not a JPEG")
        target = self.path(node_id, event_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, target)
        return target

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
