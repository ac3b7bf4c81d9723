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
    """Publishes the devices' last reported values as StationState."""

    def __init__(
        self,
        node_id: str,
        registry: DeviceRegistry,
        publish: Publish,
        min_interval_s: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._node_id = node_id
        self._devices = registry.devices
        self._publish = publish
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="device-report", daemon=True)
        registry.listen(self._on_change)

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
        devices = []
        for device_id, device in sorted(self._devices.items()):
            with device.changed:
                devices.append(
                    DeviceSnapshot(
                        device_id=device_id,
                        available=device.availability.value,
                        values=dict(device.reported),
                        updated_at=device.reported_at,
                    )
                )
        return StationState(node_id=self._node_id, ts=self._clock(), devices=devices)

    def publish(self) -> None:
        """Publish the current state now."""
        self._publish(self.snapshot())

    def _on_change(self, _change: DeviceChange) -> None:
        # Called on the MQTT thread: mark and return; the reporter thread publishes.
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
