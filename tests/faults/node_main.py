"""A simulated edge node for the fault suite: the real uplink and outbox, publishing events.

It produces events `<node>-0000` ... in order, recording after each durable `send` how many it
has produced in a progress file, so that a node killed with -9 and started again goes on
where it stopped (an event sent but not yet counted is produced again under the same id:
a re-send, which ingest must store once). After the last event it keeps running, so that
re-sends go on, until SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from pathlib import Path

from edge.config import CloudConfig
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.contracts import EventKind, NodeTopics, TopicKind, utcnow
from tests.duty.messages import event, health

KINDS = (EventKind.FALL, EventKind.SMOKE)


def event_id(node: str, index: int) -> str:
    """The id of a node's index-th event."""
    return f"{node}-{index:04d}"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=20.0, help="events a second")
    parser.add_argument("--max-rows", type=int, default=50_000, help="outbox cap")
    parser.add_argument("--health-every", type=int, default=0, help="a heartbeat per N events")
    return parser.parse_args()


def _write_progress(path: Path, produced: int) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(str(produced))
    os.replace(temporary, path)


def main() -> None:
    """Publish the events, then keep the link up until SIGTERM."""
    args = _arguments()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    cloud = CloudConfig(
        port=args.port,
        keepalive_s=5,
        resume_delay_s=0,
        receipt_timeout_s=1.0,
        receipt_backoff_max_s=2.0,
    )
    outbox = Outbox(args.folder / "outbox.sqlite", max_rows=args.max_rows)
    link = Uplink(args.node, cloud, outbox)
    link.start()
    progress = args.folder / "progress"
    start = int(progress.read_text()) if progress.exists() else 0
    topics = NodeTopics(args.node)
    for index in range(start, args.count):
        if stop.is_set():
            break
        message = event(
            event_id(args.node, index),
            utcnow(),
            node=args.node,
            kind=KINDS[index % 2],
            zone=f"z{(index // 2) % 2}",
        )
        link.send(topics.topic(TopicKind.EVENT), message)
        _write_progress(progress, index + 1)
        if args.health_every and index % args.health_every == 0:
            link.send(topics.topic(TopicKind.HEALTH), health(utcnow(), node=args.node))
        time.sleep(1 / args.rate)
    stop.wait()
    link.stop(timeout_s=2)
    outbox.close()


if __name__ == "__main__":
    main()
