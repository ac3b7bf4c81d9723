"""A node's uplink in its own process, for tests that kill it with SIGKILL.

Usage: python -m tests.edge.link.uplink_child PORT OUTBOX NODE_ID COUNT
Sends COUNT events through the outbox, prints whether it is connected, then waits to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from edge.config import CloudConfig
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.contracts import TopicKind
from tests.edge.listener import make_event


def main() -> None:
    port, outbox_path, node_id, count = sys.argv[1:5]
    uplink = Uplink(node_id, CloudConfig(port=int(port)), Outbox(Path(outbox_path)))
    uplink.start()
    connected = uplink.wait_connected(3.0)
    topic = uplink.topics.topic(TopicKind.EVENT)
    for seq in range(int(count)):
        uplink.send(topic, make_event(node_id, seq))
    print("connected" if connected else "offline", flush=True)
    time.sleep(120)


if __name__ == "__main__":
    main()
