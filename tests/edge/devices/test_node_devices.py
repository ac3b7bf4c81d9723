"""The real `station edge` process with a `devices` section: rules run beside the camera."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.simulator import SimulatedStation
from station.contracts import Event, EventKind, EventPhase, TopicKind, decode, subscription
from tests.edge.devices.mqtt_probe import Probe
from tests.edge.devices.support import Spy, wait_until
from tests.support.broker import MosquittoBroker
from tests.support.edge_node import EdgeProcess, write_edge_config

pytestmark = pytest.mark.integration

SLOW_S = 180.0  # the node loads a model first; the machine is shared


@pytest.fixture
def nodes() -> Iterator[list[EdgeProcess]]:
    started: list[EdgeProcess] = []
    yield started
    for node in started:
        node.kill()


def test_edge_node_unlocks_on_smoke_and_again_after_a_hard_restart(
    tmp_path: Path,
    broker: MosquittoBroker,
    sim: SimulatedStation,
    spy: Spy,
    nodes: list[EdgeProcess],
    models_dir: Path,
    media_dir: Path,
) -> None:
    # One broker plays both the cloud and the station broker here; the topic trees differ.
    devices = {"broker": {"host": "127.0.0.1", "port": broker.port}}
    config = write_edge_config(
        tmp_path, broker.port, models_dir, media_dir, "node-d", devices=devices
    )
    duty = Probe(broker.port, None, None)
    assert duty.subscribe(subscription(TopicKind.EVENT))
    sim.set_smoke(True)  # already burning when the node starts: it reads the retained state
    nodes.append(EdgeProcess(config, tmp_path / "edge1.log").start())
    wait_until(lambda: sim.hold and not sim.locked, "door held open by the node", SLOW_S)
    wait_until(lambda: not any(sim.socket_on.values()) and sim.fan_on, "sockets cut", SLOW_S)

    def smoke_events() -> list[Event]:
        found = [decode(Event, payload) for _, payload in list(duty.received)]
        return [e for e in found if e.kind is EventKind.SMOKE and e.phase is EventPhase.NEW]

    wait_until(lambda: bool(smoke_events()), "smoke event at the cloud", SLOW_S)
    assert smoke_events()[0].node_id == "node-d"

    nodes[0].kill()  # a power cut: the node and the door controller go down together
    sim.reboot_door()
    wait_until(lambda: sim.locked and not sim.hold, "door rebooted locked")
    unlocks = spy.commands().count(("dev/door/lock/command", "UNLOCK"))
    nodes.append(EdgeProcess(config, tmp_path / "edge2.log").start())
    wait_until(
        lambda: spy.commands().count(("dev/door/lock/command", "UNLOCK")) > unlocks,
        "unlock from the restarted node",
        SLOW_S,
    )
    wait_until(lambda: sim.hold and not sim.locked, "door held open after the restart", SLOW_S)
    duty.close()
