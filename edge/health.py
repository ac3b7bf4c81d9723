"""The node's vital signs, gathered continuously and reported as NodeHealth every interval."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import psutil

from edge.camera import CameraStats
from station.contracts import CameraHealth, NodeHealth, RunningModel, utcnow

log = logging.getLogger(__name__)


class CameraSource(Protocol):
    """Anything that reports camera counters (the real Camera does)."""

    def stats(self) -> CameraStats:
        """Return connection state and counters."""
        ...


def read_temperature() -> float | None:
    """Return the hottest temperature sensor reading in °C, or None where none is readable."""
    sensors = getattr(psutil, "sensors_temperatures", None)
    if sensors is None:
        return None
    try:
        readings = sensors()
    except (OSError, RuntimeError):
        return None
    # The hottest zone is the one that throttles the SoC first.
    values = [entry.current for group in readings.values() for entry in group if entry.current]
    return max(values) if values else None


class OutboxGauge(Protocol):
    """What health reads of the durable outbox (edge.link.outbox.Outbox fits)."""

    dropped: int

    def depth(self) -> int:
        """Return how many messages wait."""

    def oldest_age_s(self) -> float | None:
        """Return how long the oldest message has waited."""


class HealthReporter:
    """Counts inference time and processed frames; builds a NodeHealth per interval."""

    def __init__(
        self,
        node_id: str,
        cameras: Sequence[CameraSource],
        outbox: OutboxGauge,
        models: Callable[[], list[RunningModel]] | None = None,
    ) -> None:
        """Watch these cameras and this outbox for one node; `models` names what runs."""
        self.node_id = node_id
        self._models = models
        self._cameras = list(cameras)
        self._outbox = outbox
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only sets the baseline
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._window_start = self._started
        self._inference_ms: list[float] = []
        self._frames: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record_inference(self, ms: float) -> None:
        """Note the wall time of one model call."""
        with self._lock:
            self._inference_ms.append(ms)

    def record_frame(self, camera_id: str) -> None:
        """Note one frame of this camera analysed."""
        with self._lock:
            self._frames[camera_id] = self._frames.get(camera_id, 0) + 1

    def collect(self) -> NodeHealth:
        """Return the figures since the last call, and start a new interval."""
        now = time.monotonic()
        with self._lock:
            elapsed = max(now - self._window_start, 1e-6)
            timings, self._inference_ms = self._inference_ms, []
            frames, self._frames = self._frames, {}
            self._window_start = now
        cameras = []
        for camera in self._cameras:
            stats = camera.stats()
            cameras.append(
                CameraHealth(
                    camera_id=stats.camera_id,
                    connected=stats.connected,
                    fps=frames.get(stats.camera_id, 0) / elapsed,
                    reconnects=stats.reconnects,
                    frames=stats.frames,
                    last_frame_age_s=stats.last_frame_age_s,
                )
            )
        memory = self._process.memory_info().rss / (1024 * 1024)
        return NodeHealth(
            node_id=self.node_id,
            ts=utcnow(),
            uptime_s=now - self._started,
            inference_ms=sum(timings) / len(timings) if timings else 0.0,
            cpu_percent=self._process.cpu_percent(None),
            memory_mb=memory,
            temperature_c=read_temperature(),
            outbox_depth=self._outbox.depth(),
            outbox_oldest_s=self._outbox.oldest_age_s(),
            outbox_dropped=self._outbox.dropped,
            cameras=cameras,
            models=self._models() if self._models is not None else [],
        )

    def start(self, interval_s: float, publish: Callable[[NodeHealth], object]) -> None:
        """Publish a NodeHealth every `interval_s` on a background thread."""
        self._thread = threading.Thread(
            target=self._loop, args=(interval_s, publish), name="health", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _loop(self, interval_s: float, publish: Callable[[NodeHealth], object]) -> None:
        while not self._stop.wait(interval_s):
            try:
                publish(self.collect())
            except Exception:
                # A heartbeat that fails once must not stop the next ones.
                log.exception("health report failed")
