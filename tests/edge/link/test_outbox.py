"""The SQLite outbox: order, exclusion, durability across reopen and kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from edge.link.outbox import Outbox


def test_fifo_order_exclude_and_delete(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    put = [box.put(f"t/{i}", f"p{i}".encode(), qos=1, retain=i == 2) for i in range(5)]
    ids = [i for i in put if i is not None]
    assert ids == sorted(ids)
    assert len(ids) == 5
    rows = box.pending(10)
    assert [r.topic for r in rows] == [f"t/{i}" for i in range(5)]
    assert rows[2].retain
    assert not rows[1].retain
    assert rows[0].payload == b"p0"
    assert [r.id for r in box.pending(2, exclude={ids[0], ids[1]})] == ids[2:4]
    box.delete([ids[1], ids[3]])
    assert box.depth() == 3
    assert [r.id for r in box.pending(10)] == [ids[0], ids[2], ids[4]]
    assert box.pending(0) == []
    box.close()


def test_survives_reopen_in_order(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "o.sqlite"
    box = Outbox(path)
    for i in range(3):
        box.put("a", bytes([i]))
    box.close()
    again = Outbox(path)
    assert [r.payload for r in again.pending(10)] == [b"\x00", b"\x01", b"\x02"]
    later = again.put("a", b"\x03")
    assert later is not None
    assert later > again.pending(10)[2].id
    again.close()


def test_survives_kill_9_right_after_put(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from edge.link.outbox import Outbox\n"
        "box = Outbox(Path(sys.argv[1]))\n"
        "for i in range(50):\n"
        "    box.put('t', str(i).encode())\n"
        "print('done', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "done"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(10)
    box = Outbox(path)
    assert [r.payload for r in box.pending(100)] == [str(i).encode() for i in range(50)]
    box.close()


def test_cap_evicts_reports_and_snapshots_never_events(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_rows=3)
    assert box.oldest_age_s() is None
    state = box.put("uws/v1/n/state", b"s1")
    snap = box.put("uws/v1/n/snapshot/e1", b"jpeg")
    event = box.put("uws/v1/n/event", b"e1")
    assert None not in (state, snap, event)
    # Full: each new event evicts the oldest droppable row, state before snapshot.
    box.put("uws/v1/n/event", b"e2")
    assert [r.payload for r in box.pending(10)] == [b"jpeg", b"e1", b"e2"]
    box.put("uws/v1/n/event", b"e3")
    assert [r.payload for r in box.pending(10)] == [b"e1", b"e2", b"e3"]
    # Nothing droppable is left: a hazard event goes past the cap, a report is refused.
    assert box.put("uws/v1/n/event", b"e4") is not None
    assert box.put("uws/v1/n/state", b"s2") is None
    assert [r.payload for r in box.pending(10)] == [b"e1", b"e2", b"e3", b"e4"]
    assert box.dropped == 3
    age = box.oldest_age_s()
    assert age is not None
    assert age >= 0
    box.close()


def test_an_outbox_from_before_the_cap_opens_and_keeps_its_rows(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, "
        "payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, "
        "created_at REAL NOT NULL)"
    )
    conn.execute(
        "INSERT INTO outbox (topic, payload, qos, retain, created_at) "
        "VALUES ('uws/v1/n/event', x'01', 1, 0, 0)"
    )
    conn.commit()
    conn.close()
    box = Outbox(path)
    assert box.depth() == 1
    assert box.put("uws/v1/n/event", b"e") is not None
    box.close()
