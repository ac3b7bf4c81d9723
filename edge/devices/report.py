"""Reports the station's device states to the cloud: on change (at most once a second)
and with every health report, retained so a new cloud-duty replica sees them at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from edge.devices.model import DeviceChange, DeviceRegistry
from station.contracts import DeviceSnapshot, StationState, utcnow

log = logging.getLogger(__name__)

Publish = Callable[[StationState], object]


class DeviceStateReporter:
    """Keeps the last value of every device entity and publishes them as StationState."""

    def __init__(
        self,
        node_id: str,
        registry: DeviceRegistry,
        publish: Publish,
        min_interval_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._node_id = node_id
        self._publish = publish
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, dict[str, bool | float | str]] = {d: {} for d in registry.devices}
        self._available: dict[str, str] = dict.fromkeys(registry.devices, "unknown")
        self._updated: dict[str, datetime] = {}
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="device-report", daemon=True)
        registry.listen(self._on_change)
        self._seed(registry)

    def _seed(self, registry: DeviceRegistry) -> None:
        """Take what the devices reported before this listened (their retained states)."""
        with self._lock:
            for device_id, device in registry.devices.items():
                with device.changed:
                    self._available[device_id] = str(device.availability)
                    self._values[device_id].update(device.reported)
                    if device.reported_at is not None:
                        self._updated[device_id] = device.reported_at

    def start(self) -> None:
        """Start publishing changes."""
        self._thread.start()

    def stop(self) -> None:
        """Stop publishing."""
        self._stop.set()
        self._dirty.set()
        self._thread.join(timeout=5)

    def snapshot(self) -> StationState:
        """The current state of every device."""
        with self._lock:
            devices = [
                DeviceSnapshot(
                    device_id=device_id,
                    available=self._available[device_id],
                    values=dict(values),
                    updated_at=self._updated.get(device_id),
                )
                for device_id, values in sorted(self._values.items())
            ]
        return StationState(node_id=self._node_id, ts=self._clock(), devices=devices)

    def publish(self) -> None:
        """Publish the current state now."""
        self._publish(self.snapshot())

    def _on_change(self, change: DeviceChange) -> None:
        # Called on the MQTT thread: record and return; the reporter thread publishes.
        with self._lock:
            if change.entity == "status":
                self._available[change.device_id] = str(change.value)
            else:
                value = change.value
                self._values[change.device_id][change.entity] = (
                    value if isinstance(value, bool | float) else str(value)
                )
            self._updated[change.device_id] = change.at
        self._dirty.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.is_set():
                return
            self._dirty.clear()
            try:
                self.publish()
            except Exception:
                log.exception("device state report failed")
            self._stop.wait(self._min_interval_s)
