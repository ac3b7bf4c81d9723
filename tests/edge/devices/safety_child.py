"""The node's local safety in its own process, wired as edge/node.py wires it, to be killed.

Usage: python -m tests.edge.devices.safety_child STATION_PORT CLOUD_PORT OUTBOX
Starts the uplink (durable outbox) and the local safety, prints "ready", runs until killed.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from edge.analysis import to_contract_event
from edge.config import CloudConfig
from edge.devices.config import DevicesConfig, RulesConfig, StationBrokerConfig
from edge.devices.link import LocalSafety
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.contracts import TopicKind


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    station_port, cloud_port, outbox = sys.argv[1:4]
    uplink = Uplink("node-1", CloudConfig(port=int(cloud_port)), Outbox(Path(outbox)))
    topic = uplink.topics.topic(TopicKind.EVENT)
    devices = DevicesConfig(broker=StationBrokerConfig(port=int(station_port)))
    safety = LocalSafety(
        devices,
        RulesConfig(),
        lambda d, e: uplink.send(topic, to_contract_event("node-1", e, device_id=d)),
    )
    # As in the node: local safety starts first and never waits for the cloud link.
    ready = safety.start(timeout_s=30)
    uplink.start()
    print("ready" if ready else "no-station-broker", flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
