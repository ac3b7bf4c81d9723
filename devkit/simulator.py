"""Simulated station devices that behave like the ESPHome configurations on a real broker.

Same topics, retained states, a birth message and a last will per device, relays that follow
commands, the door's local auto-relock and fire input, the socket bank's local cut-off, and
sensors a test or a demo can script (a heat wave, smoke, a socket drawing too much).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.devices.config import DevicesConfig
from edge.devices.model import status_topic
from station.mqtt import stop_loop

log = logging.getLogger(__name__)

SCENARIOS = ("idle", "heatwave", "smoke", "overcurrent", "walk-in")


class SimulatedDevice:
    """One device: its own MQTT client, a retained birth and a last will."""

    def __init__(self, device_id: str, host: str, port: int) -> None:
        """Prepare the client of `device_id`; start() connects it."""
        self.device_id = device_id
        self._host, self._port = host, port
        self.lock = threading.RLock()
        self.handlers: dict[str, Any] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"sim-{device_id}")
        self.client.will_set(status_topic(device_id), "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._connected = threading.Event()

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect, publish the birth message, subscribe to command topics."""
        self.client.connect(self._host, self._port, keepalive=5)
        self.client.loop_start()
        if not self._connected.wait(timeout_s):
            raise TimeoutError(f"simulated {self.device_id} could not connect")

    def stop(self) -> None:
        """Disconnect cleanly, as ESPHome does: a retained offline shutdown message first."""
        if self._connected.is_set():
            goodbye = self.client.publish(status_topic(self.device_id), "offline", 1, retain=True)
            goodbye.wait_for_publish(5)
        self.client.disconnect()
        stop_loop(self.client)

    def crash(self) -> None:
        """Drop the connection without a goodbye, so the broker publishes the last will."""
        self.client.loop_stop()
        self._connected.clear()
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    def publish_state(self, entity: str, payload: str) -> None:
        """Publish one entity's state, retained, like ESPHome."""
        topic = f"dev/{self.device_id}/{entity}/state"
        self.client.publish(topic, payload, qos=1, retain=True)

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        client.publish(status_topic(self.device_id), "online", qos=1, retain=True)
        for entity in self.handlers:
            client.subscribe(f"dev/{self.device_id}/{entity}/command", qos=1)
        self._connected.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        entity = msg.topic.split("/")[2]
        command = msg.payload.decode("ascii", "replace").strip().upper()
        with self.lock:
            self.handlers[entity](command)


class SimulatedStation:
    """The door, environment sensor, socket bank and fan of one station."""

    def __init__(
        self,
        host: str,
        port: int,
        devices: DevicesConfig | None = None,
        *,
        relock_s: float = 8.0,
        local_cutoff_a: float = 10.0,
    ) -> None:
        """Prepare the devices named in `devices` (defaults: door, env, sockets, fan)."""
        ids = devices or DevicesConfig()
        self.relock_s = relock_s
        self.local_cutoff_a = local_cutoff_a
        self.door = SimulatedDevice(ids.door, host, port)
        self.env = SimulatedDevice(ids.environment, host, port)
        self.sockets = SimulatedDevice(ids.sockets, host, port)
        self.fan = SimulatedDevice(ids.fan, host, port)
        self.socket_names = list(ids.socket_names)
        self.locked = True
        self.door_open = False
        self.fire_input = False
        self.hold = False
        self.socket_on = dict.fromkeys(self.socket_names, True)
        self.fan_on = False
        self._relock: threading.Timer | None = None
        self.door.handlers["lock"] = self._lock_command
        self.door.handlers["hold"] = self._hold_command
        for name in self.socket_names:
            self.sockets.handlers[name] = lambda cmd, n=name: self._socket_command(n, cmd)
        self.fan.handlers["fan"] = self._fan_command

    @property
    def all(self) -> list[SimulatedDevice]:
        """Return every simulated device."""
        return [self.door, self.env, self.sockets, self.fan]

    def start(self) -> None:
        """Connect every device and publish its retained initial state."""
        for device in self.all:
            device.start()
        self._door_boot()
        self.set_temperature(24.0)
        self.env.publish_state("humidity", "50.0")
        self.set_smoke(False)
        for name in self.socket_names:
            self.sockets.publish_state(name, "ON")
            self.set_current(name, 1.5)
        self.fan.publish_state("fan", "OFF")

    def _door_boot(self) -> None:
        # As door.yaml after a power-up: locked, escape hold off (restore_mode ALWAYS_OFF).
        with self.door.lock:
            self.locked, self.hold = True, False
            self.door.publish_state("lock", "LOCKED")
            for entity in ("contact", "exit", "fire_input", "hold"):
                self.door.publish_state(entity, "OFF")

    def reboot_door(self) -> None:
        """Power-cycle the door controller: last will, then a fresh boot, locked."""
        if self._relock is not None:
            self._relock.cancel()
        self.door.crash()
        self.door.start()
        self._door_boot()

    def stop(self) -> None:
        """Disconnect every device cleanly."""
        if self._relock is not None:
            self._relock.cancel()
        for device in self.all:
            device.stop()

    # -- scripting ------------------------------------------------------------------------

    def set_temperature(self, celsius: float) -> None:
        """Report a temperature."""
        self.env.publish_state("temperature", f"{celsius:.1f}")

    def set_smoke(self, smoke: bool) -> None:
        """Make the smoke detector alarm, or clear it."""
        self.env.publish_state("smoke", "ON" if smoke else "OFF")

    def set_current(self, name: str, amps: float) -> None:
        """Make a socket draw `amps`; above the local cut-off the bank cuts it by itself."""
        with self.sockets.lock:
            drawn = amps if self.socket_on[name] else 0.0
            self.sockets.publish_state(f"{name}_current", f"{drawn:.2f}")
            self.sockets.publish_state(f"{name}_power", f"{drawn * 230:.0f}")
            if drawn > self.local_cutoff_a:
                self._socket_command(name, "OFF")

    def set_fire_input(self, active: bool) -> None:
        """Drive the door controller's hard-wired fire input (it unlocks by itself)."""
        with self.door.lock:
            self.fire_input = active
            self.door.publish_state("fire_input", "ON" if active else "OFF")
            if active:
                self._set_locked(False)

    def open_door(self) -> None:
        """Open the door (a person pushes it, with or without the lock open)."""
        with self.door.lock:
            self.door_open = True
            self.door.publish_state("contact", "ON")

    def close_door(self) -> None:
        """Close the door."""
        with self.door.lock:
            self.door_open = False
            self.door.publish_state("contact", "OFF")

    def press_exit(self) -> None:
        """Press the exit button: the controller unlocks locally."""
        with self.door.lock:
            self.door.publish_state("exit", "ON")
            self._set_locked(False)
            self.door.publish_state("exit", "OFF")

    # -- device behaviour -----------------------------------------------------------------

    def _lock_command(self, command: str) -> None:
        if command == "UNLOCK":
            self._set_locked(False)
        elif command == "LOCK":
            # As door.yaml: the fire input and the escape hold override a lock command.
            self._set_locked(not (self.fire_input or self.hold))
        else:
            log.warning("door: ignored command %r", command[:16])

    def _set_locked(self, locked: bool) -> None:
        self.locked = locked
        self.door.publish_state("lock", "LOCKED" if locked else "UNLOCKED")
        if self._relock is not None:
            self._relock.cancel()
        if not locked:
            self._relock = threading.Timer(self.relock_s, self._auto_relock)
            self._relock.daemon = True
            self._relock.start()

    def _auto_relock(self) -> None:
        with self.door.lock:
            if not (self.door_open or self.fire_input or self.hold or self.locked):
                self.locked = True
                self.door.publish_state("lock", "LOCKED")

    def _hold_command(self, command: str) -> None:
        if command not in ("ON", "OFF"):
            log.warning("door hold: ignored command %r", command[:16])
            return
        self.hold = command == "ON"
        self.door.publish_state("hold", command)
        if self.hold:
            self._set_locked(False)
        elif not self.locked:
            self._set_locked(False)  # restarts the auto-relock timer, as turn_off_action does

    def _socket_command(self, name: str, command: str) -> None:
        if command not in ("ON", "OFF"):
            log.warning("sockets: ignored command %r", command[:16])
            return
        self.socket_on[name] = command == "ON"
        self.sockets.publish_state(name, command)
        if command == "OFF":
            self.sockets.publish_state(f"{name}_current", "0.00")
            self.sockets.publish_state(f"{name}_power", "0")

    def _fan_command(self, command: str) -> None:
        if command not in ("ON", "OFF"):
            log.warning("fan: ignored command %r", command[:16])
            return
        self.fan_on = command == "ON"
        self.fan.publish_state("fan", command)


def walk_in_on_unlock(station: SimulatedStation, after_s: float = 1.0, open_s: float = 3.0) -> None:
    """From now on a worker waits at the door: each unlock, they push it open and walk in."""
    handler = station.door.handlers["lock"]

    def lock_command(command: str) -> None:
        handler(command)
        if command == "UNLOCK" and not station.door_open:
            _later(after_s, _walk_through, station, open_s)

    station.door.handlers["lock"] = lock_command


def _walk_through(station: SimulatedStation, open_s: float) -> None:
    station.open_door()
    _later(open_s, station.close_door)


def _later(delay_s: float, action: Callable[..., None], *args: object) -> None:
    timer = threading.Timer(delay_s, action, args=args)
    timer.daemon = True  # a walk-in under way never holds up a stop
    timer.start()


def run_scenario(station: SimulatedStation, scenario: str, stop: threading.Event) -> None:
    """Play one scripted scenario, then idle until `stop`."""
    if scenario == "walk-in":
        walk_in_on_unlock(station)
    elif scenario == "heatwave":
        for celsius in (30.0, 33.0, 35.5, 37.0, 38.5):
            if stop.wait(2.0):
                return
            station.set_temperature(celsius)
    elif scenario == "smoke":
        if not stop.wait(3.0):
            station.set_smoke(True)
    elif scenario == "overcurrent" and not stop.wait(3.0):
        station.set_current(station.socket_names[0], 7.5)
    while not stop.wait(1.0):
        time.sleep(0)


def simulate(host: str, port: int, scenario: str, duration_s: float | None = None) -> None:
    """Run the simulated devices until SIGINT/SIGTERM or `duration_s`, playing `scenario`."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    station = SimulatedStation(host, port)
    station.start()
    log.info("simulated devices on %s:%d, scenario %s", host, port, scenario)
    # A daemon, cancelled at the end: a SIGTERM before `duration_s` must not wait for it.
    timer = threading.Timer(duration_s or 0.0, stop.set)
    timer.daemon = True
    if duration_s is not None:
        timer.start()
    try:
        run_scenario(station, scenario, stop)
    finally:
        timer.cancel()
        station.stop()
