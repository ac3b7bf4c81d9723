"""Typed device state: parsing, bad input changing nothing, confirmed commands, availability."""

from __future__ import annotations

import pytest

from devkit.simulator import SimulatedStation
from edge.devices.config import DevicesConfig
from edge.devices.link import LocalSafety
from edge.devices.model import (
    Availability,
    DeviceChange,
    DeviceRegistry,
    DoorLock,
    Environment,
    LockState,
    Relays,
    parse_lock,
    parse_number,
    parse_switch,
)
from edge.devices.report import DeviceStateReporter
from station.contracts import StationState
from tests.edge.devices.support import Spy, wait_until


def registry() -> tuple[DeviceRegistry, DoorLock, Environment, Relays, list[tuple[str, str]]]:
    sent: list[tuple[str, str]] = []

    def record(topic: str, payload: str) -> None:
        sent.append((topic, payload))

    door, env = DoorLock("door", record), Environment("env")
    sockets = Relays("sockets", ["socket1"], record, metered=True)
    return DeviceRegistry([door, env, sockets]), door, env, sockets, sent


def test_parsers_accept_esphome_payloads() -> None:
    assert parse_switch(b"ON") is True
    assert parse_switch(b"off") is False
    assert parse_number(b"36.5", -40, 125) == 36.5
    assert parse_lock(b"UNLOCKED") is LockState.UNLOCKED


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("dev/env/temperature/state", b"hot"),
        ("dev/env/temperature/state", b"nan"),
        ("dev/env/temperature/state", b"1e9"),
        ("dev/env/temperature/state", b"2" * 1000),
        ("dev/env/smoke/state", b"maybe"),
        ("dev/env/smoke/state", b"\xff\xfe"),
        ("dev/door/lock/state", b"OPENISH"),
        ("dev/door/lock/state", b"UNKNOWN"),
        ("dev/door/status", b"sleeping"),
        ("dev/ghost/lock/state", b"LOCKED"),
        ("dev/door/window/state", b"ON"),
        ("dev/sockets/socket9_current/state", b"3.0"),
        ("dev/door/lock/state/extra", b"LOCKED"),
        ("elsewhere/door/lock/state", b"LOCKED"),
        ("dev", b"ON"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(topic: str, payload: bytes) -> None:
    reg, door, env, sockets, _ = registry()
    seen: list[DeviceChange] = []
    reg.listen(seen.append)
    assert reg.handle("dev/env/temperature/state", b"24.0") is not None
    before = (door.lock_state, door.availability, env.temperature_c, env.smoke, sockets.current_a)
    assert reg.handle(topic, payload) is None
    after = (door.lock_state, door.availability, env.temperature_c, env.smoke, sockets.current_a)
    assert after == before
    assert len(seen) == 1


def test_registry_types_each_state_and_availability() -> None:
    reg, door, env, sockets, _ = registry()
    reg.handle("dev/door/lock/state", b"LOCKED", retained=True)
    reg.handle("dev/door/contact/state", b"ON")
    reg.handle("dev/door/status", b"offline")
    reg.handle("dev/env/smoke/state", b"ON")
    change = reg.handle("dev/sockets/socket1_current/state", b"7.25")
    assert change is not None
    assert (change.device_id, change.entity, change.value) == ("sockets", "socket1_current", 7.25)
    assert door.state is LockState.LOCKED
    assert door.is_open is True
    assert door.availability is Availability.OFFLINE
    assert env.smoke is True
    assert sockets.current_a == {"socket1": 7.25}


def test_unlock_without_a_confirmation_times_out() -> None:
    _, door, _, _, sent = registry()
    assert door.unlock("qr", timeout_s=0.05) is False
    assert sent == [("dev/door/lock/command", "UNLOCK")]
    with pytest.raises(KeyError):
        Relays("fan", ["fan"], lambda _t, _p: None).switch("heater", True)


@pytest.mark.integration
def test_unlock_is_confirmed_by_the_state_topic_and_never_retained(
    sim: SimulatedStation, safety: LocalSafety, spy: Spy
) -> None:
    door = safety.devices.door
    wait_until(lambda: door.state is LockState.LOCKED, "retained LOCKED")
    assert door.unlock("member at the door")
    assert not sim.locked
    wait_until(lambda: sim.locked, "controller relocked")  # 1 s auto-relock in the simulator
    wait_until(lambda: door.state is LockState.LOCKED, "relock seen")
    assert safety.devices.fan.set_and_confirm("fan", True, timeout_s=15)
    assert sim.fan_on
    commands = [(t, p, r) for t, p, r in spy.messages if t.endswith("/command")]
    assert commands
    assert not any(retained for *_, retained in commands)
    # A client connecting now gets the retained states but no command replayed.
    late = Spy(sim.door.client.port)
    wait_until(lambda: ("dev/door/lock/state", "LOCKED", True) in late.messages, "retained")
    assert not any(t.endswith("/command") for t, _, _ in late.messages)
    late.close()


@pytest.mark.integration
def test_unlock_times_out_when_the_door_controller_is_down(
    sim: SimulatedStation, safety: LocalSafety
) -> None:
    door = safety.devices.door
    wait_until(lambda: door.state is LockState.LOCKED, "retained LOCKED")
    sim.door.crash()
    wait_until(lambda: door.availability is Availability.OFFLINE, "last will")
    assert door.unlock("qr", timeout_s=1.0) is False
    assert door.state is LockState.LOCKED


@pytest.mark.integration
def test_a_state_report_started_late_has_what_the_devices_reported_before(
    sim: SimulatedStation, safety: LocalSafety
) -> None:
    # The node starts its report after the rules have taken the retained states.
    env = safety.devices.environment
    wait_until(lambda: env.availability is Availability.ONLINE, "retained birth")
    wait_until(lambda: "temperature" in env.reported, "retained temperature")
    published: list[StationState] = []
    report = DeviceStateReporter("node-1", safety.devices.registry, published.append)
    state = {d.device_id: d for d in report.snapshot().devices}
    assert {d.available for d in state.values()} == {"online"}
    assert state[env.device_id].values["temperature"] == 24.0  # the simulator's first reading
    assert state[env.device_id].updated_at is not None
    assert state[safety.devices.door.device_id].values["lock"] == "LOCKED"
    sim.door.crash()
    door = safety.devices.door.device_id
    wait_until(lambda: _available(report, door) == "offline", "last will")


def _available(report: DeviceStateReporter, device_id: str) -> str:
    return next(d.available for d in report.snapshot().devices if d.device_id == device_id)


def test_device_ids_must_differ() -> None:
    with pytest.raises(ValueError, match="must differ"):
        DevicesConfig(door="x", fan="x")
