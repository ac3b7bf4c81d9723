"""Local safety rules: they read device states and act at once, never waiting on the cloud.

Every change is handled on one worker thread, in order; commands go out without waiting for
their confirmation, and the rules keep re-asserting a safe state (door unlocked, sockets off,
fan on) for as long as a hazard lasts, so a relock, a restart or a reconnect cannot undo it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from edge.devices.config import RulesConfig
from edge.devices.holds import FireHold, FireHolds
from edge.devices.model import Availability, DeviceChange, DoorLock, Environment, LockState, Relays
from station.contracts import utcnow
from vision.events import EventLatch, Hazard, HazardEvent, Phase, Severity

log = logging.getLogger(__name__)


DeviceEventSink = Callable[[str, HazardEvent], object]
"""Where device events go, with their device: the node's event router, a list in tests."""


_STOP: Final = object()
_RESTORED: Final = object()
_FIRE_KINDS: Final = (Hazard.FIRE, Hazard.SMOKE)
# A smoke detector or the door's fire input is a physical alarm, not a model's guess.
_SEVERITY: Final = {Hazard.FIRE: Severity.CRITICAL, Hazard.SMOKE: Severity.CRITICAL}


@dataclass(frozen=True)
class CameraHazard:
    """A camera's fire or smoke event, queued for the rules like a device change."""

    camera_id: str
    event: HazardEvent


@dataclass(frozen=True)
class CameraLooked:
    """A camera's models have looked long enough since the start to have seen a fire."""

    camera_id: str
    at: datetime


class DeviceEvents:
    """The open events of the station's devices: one latch per (kind, device, zone)."""

    def __init__(self, emit: DeviceEventSink) -> None:
        """Send each event through `emit` with the device it concerns."""
        self._emit = emit
        self._open: dict[tuple[Hazard, str, str], EventLatch] = {}

    def is_open(self, kind: Hazard, device_id: str, zone: str = "") -> bool:
        """Return whether this event is open."""
        return (kind, device_id, zone) in self._open

    def open(self, kind: Hazard, device_id: str, at: datetime, zone: str = "") -> None:
        """Send NEW unless the event is already open."""
        key = (kind, device_id, zone)
        if key in self._open:
            return
        latch = EventLatch(kind, zone)
        self._open[key] = latch
        severity = _SEVERITY.get(kind, Severity.WARNING)
        self._send(device_id, latch.open(at, at, 1.0, severity=severity))

    def close(self, kind: Hazard, device_id: str, at: datetime, zone: str = "") -> None:
        """Send END if the event is open."""
        latch = self._open.pop((kind, device_id, zone), None)
        if latch is not None:
            self._send(device_id, latch.close(at))

    def _send(self, device_id: str, events: list[HazardEvent]) -> None:
        for event in events:
            log.info(
                "device event %s %s %s device=%s zone=%s",
                event.kind.value,
                event.phase.value,
                event.event_id,
                device_id,
                event.zone,
            )
            self._emit(device_id, event)


class SafetyRules:
    """Heat, smoke/fire, over-current, door held open, door forced and devices offline."""

    def __init__(
        self,
        *,
        config: RulesConfig,
        door: DoorLock,
        environment: Environment,
        sockets: Relays,
        fan: Relays,
        emit: DeviceEventSink,
        clock: Callable[[], datetime] = utcnow,
        holds: FireHolds | None = None,
    ) -> None:
        """Watch these devices; call on_change() with each change, then start().

        `holds` keeps the cameras' open fires on disk: after a restart they hold the door
        until each camera has looked again (on_looked)."""
        self.config = config
        self.door = door
        self.environment = environment
        self.sockets = sockets
        self.fan = fan
        self.events = DeviceEvents(emit)
        self._clock = clock
        self._queue: queue.SimpleQueue[DeviceChange | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._seen: dict[tuple[Hazard, str], HazardEvent] = {}
        self._holds = holds
        # Camera fires remembered from before a restart, not yet seen again or cleared.
        self._restored: set[tuple[Hazard, str]] = set()
        self.heat_active = False
        self._opened_at: datetime | None = None
        self._last_unlocked_at: datetime | None = None

    # -- threading -----------------------------------------------------------------------

    def on_change(self, change: DeviceChange) -> None:
        """Queue one device change (called on the MQTT thread; returns at once)."""
        self._queue.put(change)

    def start(self) -> None:
        """Take back the cameras' fires from before a restart, then start the worker thread."""
        if self._holds is not None:
            restored = self._holds.load()
            for hold in restored:
                self._restore(hold)
            if restored:
                self._queue.put(_RESTORED)
        self._thread = threading.Thread(target=self._run, name="safety-rules", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the worker thread."""
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def on_hazard(self, camera_id: str, event: HazardEvent) -> None:
        """A camera's fire or smoke event: while one is open it is handled like the smoke alarm."""
        if event.kind in _FIRE_KINDS and event.phase is not Phase.UPDATE:
            self._queue.put(CameraHazard(camera_id, event))

    def on_looked(self, camera_id: str, at: datetime) -> None:
        """A camera has looked again since the start: fires remembered for it are over."""
        if self._restored:
            self._queue.put(CameraLooked(camera_id, at))

    @property
    def fire_confirmed(self) -> bool:
        """Return whether any camera sees a fire or smoke now."""
        return bool(self._seen)

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.config.tick_s)
            except queue.Empty:
                self.tick(self._clock())
                continue
            if item is _STOP:
                return
            try:
                if isinstance(item, DeviceChange):
                    self.apply(item)
                elif isinstance(item, CameraHazard):
                    self.apply_hazard(item)
                elif isinstance(item, CameraLooked):
                    self.apply_looked(item)
                elif item is _RESTORED:
                    self._fire(self._clock())
            except Exception:
                # One bad rule must not stop the others from running.
                log.exception("rule failed on %s", item)

    # -- the rules, single-threaded ------------------------------------------------------

    @property
    def hazard(self) -> bool:
        """Return whether smoke, the door's fire input or a confirmed fire is active."""
        return self.environment.smoke or self.door.fire_input or self.fire_confirmed

    def apply(self, change: DeviceChange) -> None:
        """Run every rule that one change concerns."""
        if change.entity == "status":
            self._availability(change)
        self._fire(change.at)
        if change.device_id == self.environment.device_id and change.entity == "temperature":
            self._heat(change.at)
        if change.device_id == self.sockets.device_id:
            self._overcurrent(change.at)
        if change.device_id == self.door.device_id:
            self._door(change)
        if change.device_id == self.fan.device_id and self._fan_wanted() and not self.fan.on["fan"]:
            self.fan.switch("fan", True)
        self.tick(change.at)

    def apply_hazard(self, item: CameraHazard) -> None:
        """Run the fire rule on a camera's fire or smoke event."""
        # One state per (kind, camera): a smoke END leaves a fire that is still seen alone.
        event = item.event
        key = (event.kind, item.camera_id)
        self._restored.discard(key)
        if event.phase is Phase.END:
            self._seen.pop(key, None)
            if self._holds is not None:
                self._holds.drop(event.kind, item.camera_id)
        else:
            self._seen[key] = event
            if self._holds is not None and event.phase is Phase.NEW:
                hold = FireHold(event.kind, item.camera_id, event.event_id, event.started_at)
                self._holds.put(hold)
        self._fire(event.at)
        self.tick(event.at)

    def apply_looked(self, item: CameraLooked) -> None:
        """Release the fires remembered for a camera that has looked again and not seen them."""
        for key in [k for k in self._restored if k[1] == item.camera_id]:
            self._restored.discard(key)
            self._seen.pop(key, None)
            if self._holds is not None:
                self._holds.drop(*key)
            log.info("camera %s looked again: no %s; its hold is released", key[1], key[0].value)
        self._fire(item.at)
        self.tick(item.at)

    def _restore(self, hold: FireHold) -> None:
        key = (hold.kind, hold.camera_id)
        self._restored.add(key)
        self._seen[key] = HazardEvent(
            hold.event_id, hold.kind, Phase.NEW, 0, hold.started_at, hold.started_at, 0.0
        )
        log.warning("camera %s had a %s open before the restart: holding", *key[::-1])

    def tick(self, now: datetime) -> None:
        """Check the timers: a door held open too long."""
        held = timedelta(seconds=self.config.door_held_open_s)
        if self._opened_at is not None and now - self._opened_at >= held and not self.hazard:
            self.events.open(Hazard.DOOR_HELD_OPEN, self.door.device_id, now)

    def _fire(self, at: datetime) -> None:
        fire_seen = any(kind is Hazard.FIRE for kind, _ in self._seen)
        kind = Hazard.FIRE if fire_seen or self.door.fire_input else Hazard.SMOKE
        if not self.hazard:
            for any_kind in _FIRE_KINDS:
                self.events.close(any_kind, self.environment.device_id, at)
            if self.door.hold:
                # The door then relocks by itself; sockets stay off until a person resets them.
                self.door.request_hold(False)
            return
        if not any(self.events.is_open(k, self.environment.device_id) for k in _FIRE_KINDS):
            self.events.open(kind, self.environment.device_id, at)
        # Re-asserted on every change while the hazard lasts: idempotent for the devices.
        if self.door.hold is not True:
            self.door.request_hold(True)
        if self.door.lock_state is not LockState.UNLOCKED:
            self.door.request_unlock("fire")
        for name, on in self.sockets.on.items():
            if on is not False:
                self.sockets.switch(name, False)
        if self.fan.on["fan"] is not True:
            self.fan.switch("fan", True)

    def _fan_wanted(self) -> bool:
        return self.hazard or self.heat_active

    def _heat(self, at: datetime) -> None:
        temperature = self.environment.temperature_c
        if temperature is None:
            return
        if not self.heat_active and temperature > self.config.heat_on_c:
            self.heat_active = True
            self.events.open(Hazard.HEAT, self.environment.device_id, at)
            self.fan.switch("fan", True)
        elif self.heat_active and temperature < self.config.heat_off_c:
            self.heat_active = False
            self.events.close(Hazard.HEAT, self.environment.device_id, at)
            if not self.hazard:
                self.fan.switch("fan", False)

    def _overcurrent(self, at: datetime) -> None:
        for name in self.sockets.names:
            amps = self.sockets.current_a.get(name, 0.0)
            if amps > self.config.overcurrent_a:
                if self.sockets.on.get(name) is not False:
                    self.sockets.switch(name, False)
                self.events.open(Hazard.OVERCURRENT, self.sockets.device_id, at, zone=name)
            else:
                self.events.close(Hazard.OVERCURRENT, self.sockets.device_id, at, zone=name)

    def _door(self, change: DeviceChange) -> None:
        door = self.door
        unlocked = change.entity == "lock" and change.value is LockState.UNLOCKED
        if unlocked or (change.entity == "exit" and change.value is True):
            self._last_unlocked_at = change.at
        elif change.entity == "contact" and change.value is True and self._opened_at is None:
            self._opened_at = change.at
            if not change.retained and self._forced(change.at):
                self.events.open(Hazard.DOOR_FORCED, door.device_id, change.at)
        elif change.entity == "contact" and change.value is False:
            self._opened_at = None
            self.events.close(Hazard.DOOR_HELD_OPEN, door.device_id, change.at)
            self.events.close(Hazard.DOOR_FORCED, door.device_id, change.at)

    def _forced(self, at: datetime) -> bool:
        if self.hazard or self.door.lock_state is not LockState.LOCKED:
            return False
        grace = timedelta(seconds=self.config.forced_grace_s)
        return self._last_unlocked_at is None or at - self._last_unlocked_at > grace

    def _availability(self, change: DeviceChange) -> None:
        if change.value is Availability.OFFLINE:
            self.events.open(Hazard.DEVICE_OFFLINE, change.device_id, change.at)
        elif change.value is Availability.ONLINE:
            self.events.close(Hazard.DEVICE_OFFLINE, change.device_id, change.at)
