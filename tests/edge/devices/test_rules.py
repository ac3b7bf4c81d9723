"""Each safety rule, driven by the simulated devices through a real Mosquitto."""

from __future__ import annotations

import pytest

from devkit.simulator import SimulatedStation
from edge.devices.link import LocalSafety
from edge.devices.model import Availability, LockState
from station.contracts import EventKind, EventPhase, utcnow
from tests.edge.devices.support import Collected, Spy, wait_until
from vision.events import EventLatch, Hazard

pytestmark = pytest.mark.integration


def settled(safety: LocalSafety) -> None:
    """Wait until the node has read every device's retained state."""
    devices = safety.devices
    wait_until(
        lambda: (
            devices.door.state is LockState.LOCKED
            and devices.sockets.on == {"socket1": True, "socket2": True}
            and devices.sockets.current_a.get("socket2") == 1.5
            and devices.fan.on["fan"] is False
            and devices.environment.temperature_c == 24.0
            and all(
                d.availability is Availability.ONLINE for d in devices.registry.devices.values()
            )
        ),
        "retained device states",
    )


def test_smoke_unlocks_cuts_sockets_starts_fan_and_raises_an_event(
    sim: SimulatedStation, safety: LocalSafety, spy: Spy, collected: Collected
) -> None:
    settled(safety)
    sim.set_smoke(True)
    spy.wait("dev/door/lock/command", "UNLOCK")
    spy.wait("dev/sockets/socket1/command", "OFF")
    spy.wait("dev/sockets/socket2/command", "OFF")
    spy.wait("dev/fan/fan/command", "ON")
    new = collected.wait(EventKind.SMOKE, EventPhase.NEW)
    assert new.node_id == "node-1"
    assert new.device_id == "env"
    wait_until(lambda: safety.devices.door.state is LockState.UNLOCKED, "door unlocked")
    wait_until(lambda: safety.devices.sockets.on == {"socket1": False, "socket2": False}, "cut")
    assert sim.fan_on
    sim.set_smoke(False)
    end = collected.wait(EventKind.SMOKE, EventPhase.END)
    assert (end.event_id, end.seq) == (new.event_id, 1)


def test_smoke_holds_the_door_open_until_it_clears(
    sim: SimulatedStation, safety: LocalSafety, spy: Spy, collected: Collected
) -> None:
    settled(safety)
    sim.set_smoke(True)
    spy.wait("dev/door/hold/command", "ON")
    wait_until(lambda: sim.hold and not sim.locked, "door held open")
    sim.set_smoke(False)
    spy.wait("dev/door/hold/command", "OFF")
    # Without the hold the controller's own auto-relock (1 s here) closes the door again.
    wait_until(lambda: sim.locked, "door relocked by the controller")
    collected.wait(EventKind.SMOKE, EventPhase.END)


def test_a_door_controller_rebooting_during_smoke_is_opened_again(
    sim: SimulatedStation, safety: LocalSafety, spy: Spy, collected: Collected
) -> None:
    settled(safety)
    sim.set_smoke(True)
    collected.wait(EventKind.SMOKE, EventPhase.NEW)
    wait_until(lambda: sim.hold and not sim.locked, "door held open")
    unlocks = spy.commands().count(("dev/door/lock/command", "UNLOCK"))
    sim.reboot_door()  # boots locked with the hold off
    wait_until(
        lambda: spy.commands().count(("dev/door/lock/command", "UNLOCK")) > unlocks, "re-unlock"
    )
    wait_until(lambda: sim.hold and not sim.locked, "door held open again")


def test_fire_input_on_the_door_counts_as_fire(
    sim: SimulatedStation, safety: LocalSafety, collected: Collected
) -> None:
    settled(safety)
    sim.set_fire_input(True)
    event = collected.wait(EventKind.FIRE, EventPhase.NEW)
    assert event.device_id == "env"
    wait_until(lambda: safety.devices.sockets.on == {"socket1": False, "socket2": False}, "cut")
    sim.set_fire_input(False)
    collected.wait(EventKind.FIRE, EventPhase.END)


def test_confirmed_fire_from_vision_acts_like_smoke(
    sim: SimulatedStation, safety: LocalSafety, spy: Spy, collected: Collected
) -> None:
    settled(safety)
    safety.rules.on_hazard("room", EventLatch(Hazard.FIRE).open(utcnow(), utcnow(), 0.9)[0])
    spy.wait("dev/door/lock/command", "UNLOCK")
    collected.wait(EventKind.FIRE, EventPhase.NEW)
    wait_until(lambda: not sim.locked and sim.fan_on, "door open and fan on")


def test_heat_starts_the_fan_and_stops_it_below_the_lower_threshold(
    sim: SimulatedStation, safety: LocalSafety, spy: Spy, collected: Collected
) -> None:
    settled(safety)
    sim.set_temperature(34.9)
    sim.set_temperature(35.5)
    spy.wait("dev/fan/fan/command", "ON")
    new = collected.wait(EventKind.HEAT, EventPhase.NEW)
    sim.set_temperature(34.0)  # between the thresholds: still hot
    sim.set_temperature(32.5)
    spy.wait("dev/fan/fan/command", "OFF")
    end = collected.wait(EventKind.HEAT, EventPhase.END)
    assert end.event_id == new.event_id
    assert ("dev/door/lock/command", "UNLOCK") not in spy.commands()
    assert spy.commands().count(("dev/fan/fan/command", "ON")) == 1


def test_overcurrent_cuts_only_that_socket(
    sim: SimulatedStation, safety: LocalSafety, spy: Spy, collected: Collected
) -> None:
    settled(safety)
    sim.set_current("socket1", 7.5)  # over the rule's 6 A, under the bank's own 10 A
    spy.wait("dev/sockets/socket1/command", "OFF")
    event = collected.wait(EventKind.OVERCURRENT, EventPhase.NEW)
    assert (event.device_id, event.zone) == ("sockets", "socket1")
    wait_until(lambda: sim.socket_on == {"socket1": False, "socket2": True}, "socket1 cut")
    collected.wait(EventKind.OVERCURRENT, EventPhase.END)  # the cut socket reads 0 A
    assert ("dev/sockets/socket2/command", "OFF") not in spy.commands()


def test_door_opened_while_locked_is_forced(
    sim: SimulatedStation, safety: LocalSafety, collected: Collected
) -> None:
    settled(safety)
    sim.open_door()
    event = collected.wait(EventKind.DOOR_FORCED, EventPhase.NEW)
    assert event.device_id == "door"
    sim.close_door()
    collected.wait(EventKind.DOOR_FORCED, EventPhase.END)


def test_door_opened_after_an_unlock_is_not_forced_but_can_be_held_open(
    sim: SimulatedStation, safety: LocalSafety, collected: Collected
) -> None:
    settled(safety)
    assert safety.devices.door.unlock("qr entry")
    sim.open_door()
    held = collected.wait(EventKind.DOOR_HELD_OPEN, EventPhase.NEW)  # after 1 s open
    sim.close_door()
    assert collected.wait(EventKind.DOOR_HELD_OPEN, EventPhase.END).event_id == held.event_id
    assert all(kind is not EventKind.DOOR_FORCED for kind, *_ in collected.kinds())


def test_exit_button_opening_is_not_forced(
    sim: SimulatedStation, safety: LocalSafety, collected: Collected
) -> None:
    settled(safety)
    sim.press_exit()
    wait_until(lambda: safety.devices.door.state is LockState.UNLOCKED, "exit unlocks")
    sim.open_door()
    collected.wait(EventKind.DOOR_HELD_OPEN, EventPhase.NEW)
    assert all(kind is not EventKind.DOOR_FORCED for kind, *_ in collected.kinds())


def test_a_device_going_offline_raises_an_event_from_its_last_will(
    sim: SimulatedStation, safety: LocalSafety, collected: Collected
) -> None:
    settled(safety)
    sim.fan.crash()
    event = collected.wait(EventKind.DEVICE_OFFLINE, EventPhase.NEW)
    assert event.device_id == "fan"
    assert safety.devices.fan.availability is Availability.OFFLINE
    sim.fan.start()  # its birth message ends the event
    collected.wait(EventKind.DEVICE_OFFLINE, EventPhase.END)
