"""Local safety rules: they read device states and act at once, never waiting on the cloud.

Every change is handled on one worker thread, in order; commands go out without waiting for
their confirmation, and the rules keep re-asserting a safe state (door unlocked, sockets off,
fan on) for as long as a hazard lasts, so a relock, a restart or a reconnect cannot undo it.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from edge.device_config import RulesConfig
from edge.devices import Availability, DeviceChange, DoorLock, Environment, LockState, Relays
from station.contracts import Event, EventKind, EventPhase, utcnow

log = logging.getLogger(__name__)

EventSink = Callable[[Event], object]
"""Where events go: the uplink's durable outbox in the node, a list in tests."""

_STOP: Final = object()
_HAZARDS: Final = (EventKind.FIRE, EventKind.SMOKE)


class OpenEvents:
    """Numbers the messages of each open event and closes them: one per (kind, where)."""

    def __init__(self, node_id: str, emit: EventSink) -> None:
        """Send events of `node_id` through `emit`."""
        self.node_id = node_id
        self._emit = emit
        self._open: dict[tuple[EventKind, str, str], tuple[str, int, datetime]] = {}

    def is_open(self, kind: EventKind, device_id: str, zone: str = "") -> bool:
        """Return whether this event is open."""
        return (kind, device_id, zone) in self._open

    def open(self, kind: EventKind, device_id: str, at: datetime, zone: str = "") -> None:
        """Send NEW unless the event is already open."""
        key = (kind, device_id, zone)
        if key in self._open:
            return
        event_id = f"{kind.value}-{device_id}-{uuid.uuid4().hex[:12]}"
        self._open[key] = (event_id, 1, at)
        self._send(event_id, kind, device_id, zone, EventPhase.NEW, 0, at, at)

    def close(self, kind: EventKind, device_id: str, at: datetime, zone: str = "") -> None:
        """Send END if the event is open."""
        found = self._open.pop((kind, device_id, zone), None)
        if found is not None:
            event_id, seq, started = found
            self._send(event_id, kind, device_id, zone, EventPhase.END, seq, at, started)

    def _send(
        self,
        event_id: str,
        kind: EventKind,
        device_id: str,
        zone: str,
        phase: EventPhase,
        seq: int,
        at: datetime,
        started: datetime,
    ) -> None:
        event = Event(
            event_id=event_id,
            node_id=self.node_id,
            camera_id=device_id,
            kind=kind,
            phase=phase,
            seq=seq,
            ts=at,
            started_at=started,
            score=1.0,
            zone=zone,
        )
        log.info("device event %s %s %s zone=%s", kind.value, phase.value, event_id, zone)
        self._emit(event)


class SafetyRules:
    """Heat, smoke/fire, over-current, door held open, door forced and devices offline."""

    def __init__(
        self,
        *,
        node_id: str,
        config: RulesConfig,
        door: DoorLock,
        environment: Environment,
        sockets: Relays,
        fan: Relays,
        emit: EventSink,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Watch these devices; call on_change() with each change, then start()."""
        self.config = config
        self.door = door
        self.environment = environment
        self.sockets = sockets
        self.fan = fan
        self.events = OpenEvents(node_id, emit)
        self._clock = clock
        self._queue: queue.SimpleQueue[DeviceChange | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.fire_confirmed = False
        self.heat_active = False
        self._opened_at: datetime | None = None
        self._last_unlocked_at: datetime | None = None

    # -- threading -----------------------------------------------------------------------

    def on_change(self, change: DeviceChange) -> None:
        """Queue one device change (called on the MQTT thread; returns at once)."""
        self._queue.put(change)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._run, name="safety-rules", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the worker thread."""
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def set_fire(self, confirmed: bool) -> None:
        """Vision (or a person) confirms a fire, or clears it; handled like smoke."""
        self._queue.put(DeviceChange("vision", "fire", confirmed, self._clock()))

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.config.tick_s)
            except queue.Empty:
                self.tick(self._clock())
                continue
            if item is _STOP:
                return
            if isinstance(item, DeviceChange):
                try:
                    self.apply(item)
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
        if change.device_id == "vision":
            self.fire_confirmed = bool(change.value)
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

    def tick(self, now: datetime) -> None:
        """Check the timers: a door held open too long."""
        held = timedelta(seconds=self.config.door_held_open_s)
        if self._opened_at is not None and now - self._opened_at >= held and not self.hazard:
            self.events.open(EventKind.DOOR_HELD_OPEN, self.door.device_id, now)

    def _fire(self, at: datetime) -> None:
        kind = EventKind.FIRE if self.fire_confirmed or self.door.fire_input else EventKind.SMOKE
        if not self.hazard:
            for any_kind in _HAZARDS:
                self.events.close(any_kind, self.environment.device_id, at)
            if self.door.hold:
                # The door then relocks by itself; sockets stay off until a person resets them.
                self.door.request_hold(False)
            return
        if not any(self.events.is_open(k, self.environment.device_id) for k in _HAZARDS):
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
            self.events.open(EventKind.HEAT, self.environment.device_id, at)
            self.fan.switch("fan", True)
        elif self.heat_active and temperature < self.config.heat_off_c:
            self.heat_active = False
            self.events.close(EventKind.HEAT, self.environment.device_id, at)
            if not self.hazard:
                self.fan.switch("fan", False)

    def _overcurrent(self, at: datetime) -> None:
        for name in self.sockets.names:
            amps = self.sockets.current_a.get(name, 0.0)
            if amps > self.config.overcurrent_a:
                if self.sockets.on.get(name) is not False:
                    self.sockets.switch(name, False)
                self.events.open(EventKind.OVERCURRENT, self.sockets.device_id, at, zone=name)
            else:
                self.events.close(EventKind.OVERCURRENT, self.sockets.device_id, at, zone=name)

    def _door(self, change: DeviceChange) -> None:
        door = self.door
        unlocked = change.entity == "lock" and change.value is LockState.UNLOCKED
        if unlocked or (change.entity == "exit" and change.value is True):
            self._last_unlocked_at = change.at
        elif change.entity == "contact" and change.value is True and self._opened_at is None:
            self._opened_at = change.at
            if not change.retained and self._forced(change.at):
                self.events.open(EventKind.DOOR_FORCED, door.device_id, change.at)
        elif change.entity == "contact" and change.value is False:
            self._opened_at = None
            self.events.close(EventKind.DOOR_HELD_OPEN, door.device_id, change.at)
            self.events.close(EventKind.DOOR_FORCED, door.device_id, change.at)

    def _forced(self, at: datetime) -> bool:
        if self.hazard or self.door.lock_state is not LockState.LOCKED:
            return False
        grace = timedelta(seconds=self.config.forced_grace_s)
        return self._last_unlocked_at is None or at - self._last_unlocked_at > grace

    def _availability(self, change: DeviceChange) -> None:
        if change.value is Availability.OFFLINE:
            self.events.open(EventKind.DEVICE_OFFLINE, change.device_id, change.at)
        elif change.value is Availability.ONLINE:
            self.events.close(EventKind.DEVICE_OFFLINE, change.device_id, change.at)
