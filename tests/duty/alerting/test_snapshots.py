"""Snapshot storage in the database: stored, replaced on a re-send, refused, expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from station.contracts import ContractError
from station.duty.alerting.snapshots import DatabaseSnapshots, SnapshotStorage

JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 32


def test_database_snapshots_store_replace_refuse_and_expire(engine: Engine) -> None:
    store: SnapshotStorage = DatabaseSnapshots(engine)
    assert store.load("node-1", "ev-1") is None
    store.save("node-1", "ev-1", JPEG)
    store.save("node-1", "ev-1", JPEG + b"\x02")  # a re-sent snapshot replaces, never adds
    assert store.load("node-1", "ev-1") == JPEG + b"\x02"
    with pytest.raises(ContractError):
        store.save("node-1", "ev-2", b"GIF89a")
    with pytest.raises(ContractError):
        store.save("../etc", "ev-3", JPEG)
    assert store.purge(timedelta(days=1)) == 0
    assert store.purge(timedelta(seconds=-1)) == 1
    assert store.load("node-1", "ev-1") is None
