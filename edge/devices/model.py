"""The station's MQTT devices (ESPHome/Tasmota): typed state, availability, confirmed commands.

Devices speak ESPHome's plain payloads on the station broker, under `dev/<device>/`:
`status` (online/offline, retained birth and last will), `<entity>/state` (retained) and
`<entity>/command` (never retained). firmware-configs/README.md maps every topic.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from edge.errors import DevicePayloadError
from station.contracts import utcnow

log = logging.getLogger(__name__)

DEVICE_ROOT: Final = "dev"
MAX_DEVICE_PAYLOAD: Final = 64
"""Device payloads are short words or numbers; anything longer is refused unread."""


def status_topic(device_id: str) -> str:
    """Return the availability topic of a device."""
    return f"{DEVICE_ROOT}/{device_id}/status"


def state_topic(device_id: str, entity: str) -> str:
    """Return the (retained) state topic of one entity of a device."""
    return f"{DEVICE_ROOT}/{device_id}/{entity}/state"


def command_topic(device_id: str, entity: str) -> str:
    """Return the command topic of one entity of a device (never retained)."""
    return f"{DEVICE_ROOT}/{device_id}/{entity}/command"


class Availability(StrEnum):
    """Whether a device is connected, from its birth message and last will."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


class LockState(StrEnum):
    """The door lock as its controller reports it."""

    UNKNOWN = "unknown"
    LOCKED = "LOCKED"
    UNLOCKED = "UNLOCKED"
    JAMMED = "JAMMED"
    LOCKING = "LOCKING"
    UNLOCKING = "UNLOCKING"


def _text(payload: bytes) -> str:
    if len(payload) > MAX_DEVICE_PAYLOAD:
        raise DevicePayloadError(f"payload of {len(payload)} bytes exceeds {MAX_DEVICE_PAYLOAD}")
    try:
        return payload.decode("ascii").strip()
    except UnicodeDecodeError as err:
        raise DevicePayloadError("payload is not ASCII text") from err


def parse_switch(payload: bytes) -> bool:
    """Parse an ESPHome switch/binary_sensor payload: ON or OFF."""
    text = _text(payload).upper()
    if text not in ("ON", "OFF"):
        raise DevicePayloadError(f"expected ON or OFF, got {text[:16]!r}")
    return text == "ON"


def parse_number(payload: bytes, low: float, high: float) -> float:
    """Parse a sensor reading and check it lies in [low, high]."""
    text = _text(payload)
    try:
        value = float(text)
    except ValueError as err:
        raise DevicePayloadError(f"expected a number, got {text[:16]!r}") from err
    if not math.isfinite(value) or not low <= value <= high:
        raise DevicePayloadError(f"{value} is outside [{low}, {high}]")
    return value


def parse_lock(payload: bytes) -> LockState:
    """Parse an ESPHome lock state payload."""
    text = _text(payload).upper()
    try:
        state = LockState(text)
    except ValueError as err:
        raise DevicePayloadError(f"unknown lock state {text[:16]!r}") from err
    if state is LockState.UNKNOWN:
        raise DevicePayloadError("unknown lock state 'UNKNOWN'")
    return state


def parse_availability(payload: bytes) -> Availability:
    """Parse a birth / last-will payload: online or offline."""
    text = _text(payload).lower()
    if text not in ("online", "offline"):
        raise DevicePayloadError(f"expected online or offline, got {text[:16]!r}")
    return Availability(text)


CommandSender = Callable[[str, str], None]
"""Sends a device command (topic, payload): QoS 1, never retained (a retained unlock replays)."""


@dataclass(frozen=True)
class DeviceChange:
    """One accepted state change, as the rules see it."""

    device_id: str
    entity: str
    value: bool | float | LockState | Availability
    at: datetime
    retained: bool = False


ChangeListener = Callable[[DeviceChange], None]


@dataclass
class Device:
    """Base of every device: its id, availability and a condition to wait on its state."""

    device_id: str
    availability: Availability = Availability.UNKNOWN
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    # Every entity's last value as reported, retained states included: what the station's
    # state report publishes, however late it starts.
    reported: dict[str, bool | float | str] = field(default_factory=dict, repr=False)
    reported_at: datetime | None = None

    def entities(self) -> list[str]:
        """Return the entity names whose state topics this device publishes."""
        return []

    def apply(self, entity: str, payload: bytes) -> bool | float | LockState:  # noqa: ARG002
        """Parse and store one entity's state; raise DevicePayloadError if it does not fit."""
        raise DevicePayloadError(f"{self.device_id} has no entity {entity!r}")


class DoorLock(Device):
    """Door controller: lock, contact (True = open), exit button, fire input, and the agree
    button beside the door screen (face enrolment consent)."""

    def __init__(self, device_id: str, send: CommandSender, timeout_s: float = 3.0) -> None:
        """Track the door `device_id`; commands go out through `send`."""
        super().__init__(device_id)
        self._send = send
        self.timeout_s = timeout_s
        self.lock_state = LockState.UNKNOWN
        self.is_open: bool | None = None
        self.exit_pressed = False
        self.agree_pressed = False
        self.fire_input = False
        self.hold: bool | None = None
        self.last_unlock_reason = ""

    def entities(self) -> list[str]:
        """Return lock, contact, exit, agree, fire_input and hold (the escape hold switch)."""
        return ["lock", "contact", "exit", "agree", "fire_input", "hold"]

    def apply(self, entity: str, payload: bytes) -> bool | float | LockState:
        """Store the lock state, the contact or a button."""
        if entity == "lock":
            self.lock_state = parse_lock(payload)
            return self.lock_state
        value = parse_switch(payload)
        if entity == "contact":
            self.is_open = value
        elif entity == "exit":
            self.exit_pressed = value
        elif entity == "agree":
            self.agree_pressed = value
        elif entity == "fire_input":
            self.fire_input = value
        elif entity == "hold":
            self.hold = value
        else:
            return super().apply(entity, payload)
        return value

    @property
    def state(self) -> LockState:
        """Return the last lock state the controller reported."""
        return self.lock_state

    def stands_open(self) -> bool:
        """Whether someone let in may pass with no opening to see: the door is open already,
        or the escape hold or the fire input keeps it unlocked."""
        return bool(self.is_open) or bool(self.hold) or self.fire_input

    def request_unlock(self, reason: str) -> None:
        """Send UNLOCK without waiting: the rules' path, which must never block."""
        self.last_unlock_reason = reason
        log.info("door %s: unlock (%s)", self.device_id, reason)
        self._send(command_topic(self.device_id, "lock"), "UNLOCK")

    def request_hold(self, on: bool) -> None:
        """Turn the escape hold on (door kept unlocked, no auto-relock) or off, without waiting."""
        log.info("door %s: escape hold %s", self.device_id, "on" if on else "off")
        self._send(command_topic(self.device_id, "hold"), "ON" if on else "OFF")

    def request_lock(self) -> None:
        """Send LOCK without waiting."""
        log.info("door %s: lock", self.device_id)
        self._send(command_topic(self.device_id, "lock"), "LOCK")

    def unlock(self, reason: str, timeout_s: float | None = None) -> bool:
        """Unlock and wait until the controller reports UNLOCKED; False on timeout."""
        with self.changed:
            self.request_unlock(reason)
            return self._wait_for(LockState.UNLOCKED, timeout_s)

    def lock(self, timeout_s: float | None = None) -> bool:
        """Lock and wait until the controller reports LOCKED; False on timeout."""
        with self.changed:
            self.request_lock()
            return self._wait_for(LockState.LOCKED, timeout_s)

    def _wait_for(self, want: LockState, timeout_s: float | None) -> bool:
        # Called holding the condition, so a confirmation cannot slip in before the wait.
        limit = self.timeout_s if timeout_s is None else timeout_s
        done = self.changed.wait_for(lambda: self.lock_state is want, timeout=limit)
        if not done:
            log.warning("door %s: no %s confirmation in %.1f s", self.device_id, want, limit)
        return done


class Environment(Device):
    """Temperature (C), humidity (%) and a smoke detector."""

    def __init__(self, device_id: str) -> None:
        """Track the environment sensor `device_id`."""
        super().__init__(device_id)
        self.temperature_c: float | None = None
        self.humidity: float | None = None
        self.smoke = False

    def entities(self) -> list[str]:
        """Return temperature, humidity and smoke."""
        return ["temperature", "humidity", "smoke"]

    def apply(self, entity: str, payload: bytes) -> bool | float | LockState:
        """Store one reading."""
        if entity == "temperature":
            self.temperature_c = parse_number(payload, -40.0, 125.0)
            return self.temperature_c
        if entity == "humidity":
            self.humidity = parse_number(payload, 0.0, 100.0)
            return self.humidity
        if entity == "smoke":
            self.smoke = parse_switch(payload)
            return self.smoke
        return super().apply(entity, payload)


class Relays(Device):
    """Relays that follow ON/OFF commands (sockets, a fan), with optional current readings."""

    def __init__(
        self, device_id: str, names: list[str], send: CommandSender, metered: bool = False
    ) -> None:
        """Track the relays `names` of device `device_id`."""
        super().__init__(device_id)
        self.names = list(names)
        self.metered = metered
        self._send = send
        self.on: dict[str, bool | None] = dict.fromkeys(names)
        self.current_a: dict[str, float] = {}
        self.power_w: dict[str, float] = {}

    def entities(self) -> list[str]:
        """Return each relay, and its _current and _power sensors when metered."""
        extra = (
            [f"{n}_{s}" for n in self.names for s in ("current", "power")] if self.metered else []
        )
        return [*self.names, *extra]

    def apply(self, entity: str, payload: bytes) -> bool | float | LockState:
        """Store a relay state or a meter reading."""
        if entity in self.on:
            self.on[entity] = parse_switch(payload)
            return bool(self.on[entity])
        name, _, kind = entity.rpartition("_")
        if self.metered and name in self.on and kind == "current":
            self.current_a[name] = parse_number(payload, 0.0, 100.0)
            return self.current_a[name]
        if self.metered and name in self.on and kind == "power":
            self.power_w[name] = parse_number(payload, 0.0, 25_000.0)
            return self.power_w[name]
        return super().apply(entity, payload)

    def switch(self, name: str, on: bool) -> None:
        """Send ON or OFF to one relay without waiting."""
        if name not in self.on:
            raise KeyError(f"{self.device_id} has no relay {name!r}")
        log.info("%s/%s: %s", self.device_id, name, "ON" if on else "OFF")
        self._send(command_topic(self.device_id, name), "ON" if on else "OFF")

    def set_and_confirm(self, name: str, on: bool, timeout_s: float) -> bool:
        """Switch one relay and wait until its state topic confirms; False on timeout."""
        with self.changed:
            self.switch(name, on)
            return self.changed.wait_for(lambda: self.on.get(name) is on, timeout=timeout_s)


class DeviceRegistry:
    """Routes device messages to typed devices and tells listeners about accepted changes."""

    def __init__(self, devices: list[Device], clock: Callable[[], datetime] = utcnow) -> None:
        """Hold `devices`, each with a distinct id."""
        self.devices = {device.device_id: device for device in devices}
        if len(self.devices) != len(devices):
            raise ValueError("device ids must be distinct")
        self._clock = clock
        self._listeners: list[ChangeListener] = []

    def listen(self, listener: ChangeListener) -> None:
        """Call `listener` with every accepted change (on the MQTT thread: keep it quick)."""
        self._listeners.append(listener)

    def subscriptions(self) -> list[str]:
        """Return the topics to subscribe to: each device's status and state topics."""
        topics = []
        for device in self.devices.values():
            topics.append(status_topic(device.device_id))
            topics += [state_topic(device.device_id, e) for e in device.entities()]
        return topics

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> DeviceChange | None:
        """Apply one message; a bad topic or payload is logged and changes nothing."""
        parts = topic.split("/")
        device = self.devices.get(parts[1]) if len(parts) >= 3 and parts[0] == DEVICE_ROOT else None
        if device is None:
            log.warning("ignored message on unknown device topic %r", topic[:128])
            return None
        try:
            change = self._apply(device, parts[2:], payload, retained)
        except DevicePayloadError as err:
            log.warning("ignored %s: %s", topic[:128], err)
            return None
        for listener in self._listeners:
            listener(change)
        return change

    def _apply(
        self, device: Device, rest: list[str], payload: bytes, retained: bool
    ) -> DeviceChange:
        at = self._clock()
        with device.changed:
            if rest == ["status"]:
                device.availability = parse_availability(payload)
                value: bool | float | LockState | Availability = device.availability
                entity = "status"
            elif len(rest) == 2 and rest[1] == "state" and rest[0] in device.entities():
                entity = rest[0]
                value = device.apply(entity, payload)
                device.reported[entity] = value if isinstance(value, bool | float) else str(value)
            else:
                raise DevicePayloadError(f"{device.device_id} has no topic {'/'.join(rest)!r}")
            device.reported_at = at
            device.changed.notify_all()
        return DeviceChange(device.device_id, entity, value, at, retained)
