"""Fixtures for the device tests: simulated devices and the local safety on a real broker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devkit.simulator import SimulatedStation
from edge.devices.config import DevicesConfig, RulesConfig, StationBrokerConfig
from edge.devices.link import LocalSafety
from tests.edge.devices.support import Collected, Spy
from tests.support.broker import MosquittoBroker


@pytest.fixture
def sim(broker: MosquittoBroker) -> Iterator[SimulatedStation]:
    """Simulated door, environment sensor, sockets and fan on the test's broker."""
    station = SimulatedStation("127.0.0.1", broker.port, relock_s=1.0)
    station.start()
    yield station
    station.stop()


@pytest.fixture
def spy(broker: MosquittoBroker) -> Iterator[Spy]:
    """Everything published under dev/#."""
    watcher = Spy(broker.port)
    yield watcher
    watcher.close()


@pytest.fixture
def collected() -> Collected:
    """The events the rules emit."""
    return Collected()


def make_safety(port: int, collected: Collected, rules: RulesConfig | None = None) -> LocalSafety:
    """Start the node's device link and rules against the broker on `port`."""
    devices = DevicesConfig(broker=StationBrokerConfig(port=port), command_timeout_s=10.0)
    safety = LocalSafety(devices, rules or RulesConfig(), collected)
    assert safety.start(timeout_s=15.0)
    return safety


@pytest.fixture
def safety(
    broker: MosquittoBroker, sim: SimulatedStation, collected: Collected
) -> Iterator[LocalSafety]:
    """The local safety rules with default thresholds, after the devices are up."""
    running = make_safety(broker.port, collected, RulesConfig(door_held_open_s=1.0))
    yield running
    running.stop()
