"""The node's own retention on its real files: door decisions in the entry state file and
unreceipted outbox messages go after their periods, at most every `every_h` hours."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from edge.config import RetentionConfig
from edge.entry.store import AuditEntry, EntryStore
from edge.link.outbox import Outbox
from edge.retention import LocalPurge, LocalRetention
from station.contracts import utcnow


def test_old_door_decisions_and_unreceipted_messages_go_on_schedule(tmp_path: Path) -> None:
    now = utcnow()
    store = EntryStore(tmp_path / "entry.sqlite")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    for days in (120, 91, 89, 1):
        at = now - timedelta(days=days)
        store.audit(AuditEntry(at, "qr", "m-1", "unlocked", f"{days} days ago"))
    outbox.put("uws/v1/node-1/event", b"{}")
    config = RetentionConfig(door_log_days=90, outbox_days=30, every_h=6)
    retention = LocalRetention(config, outbox, store)

    assert retention.maybe_run(now) == LocalPurge(door_decisions=2, outbox_messages=0)
    assert [e.reason for e in store.audit_log()] == ["89 days ago", "1 days ago"]
    assert outbox.depth() == 1  # queued just now: kept

    later = now + timedelta(hours=5)
    assert retention.maybe_run(later) is None  # not due yet
    much_later = now + timedelta(days=31)
    assert retention.maybe_run(much_later) == LocalPurge(door_decisions=1, outbox_messages=1)
    assert outbox.depth() == 0
    assert [e.reason for e in store.audit_log()] == ["1 days ago"]
    store.close()
    outbox.close()


def test_a_node_without_entry_purges_its_outbox_only(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.put("uws/v1/node-1/health", b"{}")
    retention = LocalRetention(RetentionConfig(outbox_days=1), outbox)
    assert retention.maybe_run(utcnow() + timedelta(days=2)) == LocalPurge(0, 1)
    outbox.close()
