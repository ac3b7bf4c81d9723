"""Safety without the cloud, and across a hard restart of the edge process."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.simulator import SimulatedStation
from station.contracts import Event, EventKind, EventPhase, TopicKind, decode, subscription
from tests.edge.devices.mqtt_probe import Probe
from tests.edge.devices.support import Spy, wait_until
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


class Child:
    """tests.edge.devices.safety_child in a subprocess."""

    def __init__(self, station_port: int, cloud_port: int, outbox: Path, log: Path) -> None:
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "tests.edge.devices.safety_child"),
                *(str(station_port), str(cloud_port), str(outbox)),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        assert line == "ready", f"child said {line!r}; see {log}"

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as a crash or a power cut."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)
        self.log.close()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(tmp_path / "cloud")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        if child.proc.poll() is None:
            child.kill()


def test_with_the_cloud_broker_down_smoke_still_unlocks_and_cuts(
    broker: MosquittoBroker,
    cloud: MosquittoBroker,
    sim: SimulatedStation,
    spy: Spy,
    children: list[Child],
    tmp_path: Path,
) -> None:
    cloud.stop()
    children.append(Child(broker.port, cloud.port, tmp_path / "outbox.sqlite", tmp_path / "c.log"))
    wait_until(lambda: ("dev/door/status", "online", True) in spy.messages, "devices up")
    sim.set_smoke(True)
    spy.wait("dev/door/lock/command", "UNLOCK")
    wait_until(lambda: not sim.locked, "door unlocked")
    wait_until(lambda: not any(sim.socket_on.values()) and sim.fan_on, "sockets cut, fan on")
    # The event waited in the outbox and reaches the cloud once its broker is back.
    cloud.start()
    duty = Probe(cloud.port, None, None)
    assert duty.subscribe(subscription(TopicKind.EVENT))
    wait_until(lambda: bool(duty.received), "the event from the outbox")
    event = decode(Event, duty.received[0][1])
    assert (event.kind, event.phase, event.node_id) == (EventKind.SMOKE, EventPhase.NEW, "node-1")
    duty.close()


def test_after_a_hard_restart_during_a_fire_the_door_is_not_left_locked(
    broker: MosquittoBroker,
    cloud: MosquittoBroker,
    sim: SimulatedStation,
    spy: Spy,
    children: list[Child],
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox.sqlite"
    children.append(Child(broker.port, cloud.port, outbox, tmp_path / "c1.log"))
    sim.set_smoke(True)
    wait_until(lambda: not sim.locked, "door unlocked by the first process")
    children[0].kill()
    # A power cut takes the door controller down too: it boots locked, hold off.
    sim.reboot_door()
    wait_until(lambda: sim.locked and not sim.hold, "door controller rebooted locked")
    unlocks = spy.commands().count(("dev/door/lock/command", "UNLOCK"))
    children.append(Child(broker.port, cloud.port, outbox, tmp_path / "c2.log"))
    # The new process reads the retained smoke state and opens the door again.
    wait_until(
        lambda: spy.commands().count(("dev/door/lock/command", "UNLOCK")) > unlocks, "re-unlock"
    )
    wait_until(lambda: not sim.locked, "door unlocked after the restart")
