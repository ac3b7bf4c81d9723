"""The rules on their own, with recorded commands and a fixed clock: no broker, no threads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.analysis import to_contract_event
from edge.devices.config import RulesConfig
from edge.devices.holds import FireHold, FireHolds
from edge.devices.model import DeviceChange, DeviceRegistry, DoorLock, Environment, Relays
from edge.devices.rules import CameraHazard, CameraLooked, SafetyRules
from station.contracts import Event, EventKind, EventPhase
from vision.events import EventLatch, Hazard

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


class Station:
    """Devices fed by hand, the commands they were sent, the events the rules emitted."""

    def __init__(self, **thresholds: float) -> None:
        self.now = T0
        self.sent: list[tuple[str, str]] = []
        self.events: list[Event] = []
        send = self._record
        self.door = DoorLock("door", send)
        self.env = Environment("env")
        self.sockets = Relays("sockets", ["socket1"], send, metered=True)
        self.fan = Relays("fan", ["fan"], send)
        self.registry = DeviceRegistry([self.door, self.env, self.sockets, self.fan], self.clock)
        self.rules = SafetyRules(
            config=RulesConfig(**thresholds),
            door=self.door,
            environment=self.env,
            sockets=self.sockets,
            fan=self.fan,
            emit=lambda d, e: self.events.append(to_contract_event("n1", e, device_id=d)),
            clock=self.clock,
        )
        self.registry.listen(self.rules.apply)  # synchronous here; the node queues instead

    def _record(self, topic: str, payload: str) -> None:
        self.sent.append((topic, payload))

    def clock(self) -> datetime:
        return self.now

    def state(self, topic: str, payload: str, retained: bool = False) -> DeviceChange | None:
        return self.registry.handle(f"dev/{topic}", payload.encode(), retained)

    def kinds(self) -> list[tuple[EventKind, EventPhase]]:
        return [(e.kind, e.phase) for e in self.events]


def test_heat_has_hysteresis() -> None:
    st = Station(heat_on_c=35, heat_off_c=33)
    st.state("fan/fan/state", "OFF")
    for reading in ("35.0", "35.1", "34.0", "33.5", "36.0", "32.9"):
        st.state("env/temperature/state", reading)
    assert st.kinds() == [(EventKind.HEAT, EventPhase.NEW), (EventKind.HEAT, EventPhase.END)]
    assert st.sent == [("dev/fan/fan/command", "ON"), ("dev/fan/fan/command", "OFF")]


def test_held_open_fires_on_the_tick_after_the_limit_and_not_before() -> None:
    st = Station(door_held_open_s=30)
    st.state("door/lock/state", "UNLOCKED")
    st.state("door/contact/state", "ON")
    st.now = T0 + timedelta(seconds=29.9)
    st.rules.tick(st.now)
    assert st.kinds() == []
    st.now = T0 + timedelta(seconds=30)
    st.rules.tick(st.now)
    assert st.kinds() == [(EventKind.DOOR_HELD_OPEN, EventPhase.NEW)]
    st.state("door/contact/state", "OFF")
    assert st.kinds()[-1] == (EventKind.DOOR_HELD_OPEN, EventPhase.END)


def test_forced_depends_on_the_grace_after_an_unlock() -> None:
    st = Station(forced_grace_s=5)
    st.state("door/lock/state", "UNLOCKED")
    st.now = T0 + timedelta(seconds=2)
    st.state("door/lock/state", "LOCKED")  # relocked fast, the person still pulls the door
    st.state("door/contact/state", "ON")
    assert st.kinds() == []
    st.state("door/contact/state", "OFF")
    st.now = T0 + timedelta(seconds=60)
    st.state("door/contact/state", "ON")
    assert st.kinds() == [(EventKind.DOOR_FORCED, EventPhase.NEW)]


def test_a_retained_open_contact_at_start_is_not_forced() -> None:
    st = Station()
    st.state("door/lock/state", "LOCKED", retained=True)
    st.state("door/contact/state", "ON", retained=True)
    assert st.kinds() == []


def test_smoke_at_start_from_retained_states_acts_once_states_are_known() -> None:
    st = Station()
    st.state("env/smoke/state", "ON", retained=True)
    assert ("dev/door/lock/command", "UNLOCK") in st.sent
    assert ("dev/door/hold/command", "ON") in st.sent
    assert ("dev/sockets/socket1/command", "OFF") in st.sent
    assert ("dev/fan/fan/command", "ON") in st.sent
    st.state("door/lock/state", "UNLOCKED")
    st.state("door/hold/state", "ON")
    st.state("sockets/socket1/state", "OFF")
    st.state("fan/fan/state", "ON")
    st.sent.clear()
    st.state("env/humidity/state", "40")
    assert st.sent == []  # every device confirmed the safe state: nothing more to send
    st.state("door/lock/state", "LOCKED")  # something relocked it
    assert st.sent == [("dev/door/lock/command", "UNLOCK")]
    assert st.kinds() == [(EventKind.SMOKE, EventPhase.NEW)]


def test_offline_and_online_open_and_close_one_event_per_device() -> None:
    st = Station()
    st.state("fan/status", "offline", retained=True)
    st.state("env/status", "offline")
    st.state("fan/status", "online")
    events = [(e.kind, e.phase, e.device_id) for e in st.events]
    assert events == [
        (EventKind.DEVICE_OFFLINE, EventPhase.NEW, "fan"),
        (EventKind.DEVICE_OFFLINE, EventPhase.NEW, "env"),
        (EventKind.DEVICE_OFFLINE, EventPhase.END, "fan"),
    ]
    assert st.events[0].event_id == st.events[2].event_id


def test_a_smoke_end_leaves_a_fire_still_seen_by_another_camera_in_charge() -> None:
    st = Station()
    fire, smoke = EventLatch(Hazard.FIRE), EventLatch(Hazard.SMOKE)
    st.rules.apply_hazard(CameraHazard("hall", fire.open(T0, T0, 0.9)[0]))
    st.rules.apply_hazard(CameraHazard("store", smoke.open(T0, T0, 0.7)[0]))
    assert st.kinds() == [(EventKind.FIRE, EventPhase.NEW)]
    assert ("dev/door/lock/command", "UNLOCK") in st.sent
    st.now = T0 + timedelta(seconds=5)
    st.rules.apply_hazard(CameraHazard("store", smoke.close(st.now)[0]))
    assert st.rules.hazard
    assert st.kinds() == [(EventKind.FIRE, EventPhase.NEW)]
    st.rules.apply_hazard(CameraHazard("hall", fire.close(st.now)[0]))
    assert not st.rules.hazard
    assert st.kinds() == [(EventKind.FIRE, EventPhase.NEW), (EventKind.FIRE, EventPhase.END)]
    assert [e.seq for e in st.events] == [0, 1]


def rules_with_holds(st: Station, holds: FireHolds) -> SafetyRules:
    """The same devices under a new rules object: the node after a restart."""
    return SafetyRules(
        config=RulesConfig(),
        door=st.door,
        environment=st.env,
        sockets=st.sockets,
        fan=st.fan,
        emit=lambda d, e: st.events.append(to_contract_event("n1", e, device_id=d)),
        clock=st.clock,
        holds=holds,
    )


def test_a_camera_fire_is_held_across_a_restart_until_that_camera_looked_again(
    tmp_path: Path,
) -> None:
    st = Station()
    path = tmp_path / "fire_holds.sqlite"
    before = rules_with_holds(st, FireHolds(path))
    fire = EventLatch(Hazard.FIRE)
    before.apply_hazard(CameraHazard("hall", fire.open(T0, T0, 0.9)[0]))
    assert [h.camera_id for h in FireHolds(path).load()] == ["hall"]
    # Restarted: nothing seen yet, the hold comes from the file.
    after = rules_with_holds(st, FireHolds(path))
    after.start()
    try:
        st.sent.clear()
        assert after.hazard
        st.now = T0 + timedelta(seconds=30)
        after.apply_looked(CameraLooked("store", st.now))  # another camera: still held
        assert after.hazard
        assert ("dev/door/lock/command", "UNLOCK") in st.sent
        after.apply_looked(CameraLooked("hall", st.now))
        assert not after.hazard
        assert FireHolds(path).load() == []
    finally:
        after.stop()


def test_a_fire_seen_again_after_a_restart_replaces_the_remembered_one(tmp_path: Path) -> None:
    st = Station()
    path = tmp_path / "fire_holds.sqlite"
    holds = FireHolds(path)
    holds.put(FireHold(Hazard.FIRE, "hall", "old", T0))
    rules = rules_with_holds(st, FireHolds(path))
    rules.start()
    try:
        seen = EventLatch(Hazard.FIRE).open(T0, T0, 0.9)[0]
        rules.apply_hazard(CameraHazard("hall", seen))
        rules.apply_looked(CameraLooked("hall", T0 + timedelta(seconds=30)))
        assert rules.hazard  # seen again: the looked camera keeps its live fire
        assert [h.event_id for h in holds.load()] == [seen.event_id]
    finally:
        rules.stop()
