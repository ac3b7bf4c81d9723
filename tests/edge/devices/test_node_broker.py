"""The shipped station broker config and ACL: devices keep to their own topics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edge.devices.brokers import make_ca, shipped_broker
from tests.edge.devices.mqtt_probe import Probe

pytestmark = pytest.mark.integration

USERS = {"door": "pw-door", "sockets": "pw-sockets", "edge": "pw-edge"}


@pytest.fixture
def node_broker(tmp_path: Path) -> Iterator[tuple[int, int, str]]:
    tls = make_ca(tmp_path / "ca")
    broker, tls_port = shipped_broker("node", tmp_path / "node", USERS, tls)
    broker.start()
    yield broker.port, tls_port, str(tls.ca)
    broker.stop()


def test_devices_and_edge_keep_to_their_topics(node_broker: tuple[int, int, str]) -> None:
    port, tls_port, ca = node_broker
    assert not Probe(port, None, None).connected
    door = Probe(tls_port, "door", "pw-door", ca=ca)  # devices use the TLS listener
    sockets = Probe(port, "sockets", "pw-sockets")
    edge = Probe(port, "edge", "pw-edge")
    try:
        assert door.connected
        assert sockets.connected
        assert edge.connected
        assert edge.subscribe("dev/#")
        door.subscribe("dev/#")
        assert door.publish("dev/door/lock/state", b"LOCKED")
        assert door.publish("dev/door/status", b"online")
        # A device may not command another device nor pose as one.
        assert not door.publish("dev/sockets/socket1/command", b"OFF")
        assert not door.publish("dev/sockets/socket1/state", b"OFF")
        assert not sockets.publish("dev/door/lock/command", b"UNLOCK")
        # The edge process commands every device but cannot fake their states.
        assert edge.publish("dev/door/lock/command", b"UNLOCK")
        assert not edge.publish("dev/door/lock/state", b"UNLOCKED")
        door.wait_message("dev/door/lock/command", b"UNLOCK")
        edge.wait_message("dev/door/lock/state", b"LOCKED")
        assert not any(t.startswith("dev/sockets/") for t, _ in door.received), door.received
        assert (("dev/door/lock/state", b"UNLOCKED")) not in edge.received
    finally:
        for probe in (door, sockets, edge):
            probe.close()
