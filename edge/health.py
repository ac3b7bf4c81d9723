"""The node's vital signs, gathered continuously and reported as NodeHealth every interval."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import psutil

from edge.accelerator import GpuProbe, NoGpu
from edge.camera import CameraStats
from edge.metrics import NodeMetrics
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


def cpu_busy_percent(before: Any, after: Any) -> float | None:
    """Whole-machine CPU use between two `psutil.cpu_times()` readings, or None if no time
    passed; idle and I/O wait count as not busy, as in `psutil.cpu_percent`."""
    total = sum(after) - sum(before)
    if total <= 0:
        return None
    idle = (after.idle - before.idle) + (
        getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0)
    )
    return float(min(100.0, max(0.0, 100.0 * (total - idle) / total)))


def disk_used_percent(path: Path) -> float | None:
    """Return how full the disk holding `path` is, or None where it cannot be read."""
    try:
        return float(psutil.disk_usage(str(path)).percent)
    except OSError:
        return None


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
        *,
        models: Callable[[], list[RunningModel]] | None = None,
        data_dir: Path = Path("."),
        gpu: GpuProbe | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        """Watch these cameras, this outbox, the disk of `data_dir` and the GPU of one node;
        `models` names what runs."""
        self.node_id = node_id
        self._models = models
        self._cameras = list(cameras)
        self._outbox = outbox
        self._data_dir = data_dir
        self._gpu = gpu or NoGpu()
        self.metrics = metrics
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only sets the baseline
        # Our own baseline: psutil.cpu_percent(None) keeps one per process, which any other
        # caller in the process (a library) resets.
        self._cpu_times = psutil.cpu_times()
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._window_start = self._started
        self._inference_ms: list[float] = []
        self._frames: dict[str, int] = {}
        self._analysed: dict[str, int] = {}
        self._occupancy: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record_inference(self, ms: float) -> None:
        """Note the wall time of one model call."""
        with self._lock:
            self._inference_ms.append(ms)
        if self.metrics is not None:
            self.metrics.record_inference(ms)

    def record_frame(self, camera_id: str, occupancy: int | None = None) -> None:
        """Note one frame of this camera analysed, and the people it counts now."""
        with self._lock:
            self._frames[camera_id] = self._frames.get(camera_id, 0) + 1
            self._analysed[camera_id] = self._analysed.get(camera_id, 0) + 1
            if occupancy is not None:
                self._occupancy[camera_id] = occupancy
        if self.metrics is not None:
            self.metrics.record_frame(camera_id)

    def collect(self) -> NodeHealth:
        """Return the figures since the last call, and start a new interval."""
        now = time.monotonic()
        with self._lock:
            elapsed = max(now - self._window_start, 1e-6)
            timings, self._inference_ms = self._inference_ms, []
            frames, self._frames = self._frames, {}
            analysed = dict(self._analysed)
            occupancy = dict(self._occupancy)
            self._window_start = now
        cameras = [
            self._camera_health(camera.stats(), frames, analysed, occupancy, elapsed)
            for camera in self._cameras
        ]
        health = NodeHealth(
            node_id=self.node_id,
            ts=utcnow(),
            uptime_s=now - self._started,
            inference_ms=sum(timings) / len(timings) if timings else 0.0,
            cpu_percent=self._process.cpu_percent(None),
            memory_mb=self._process.memory_info().rss / (1024 * 1024),
            temperature_c=read_temperature(),
            outbox_depth=self._outbox.depth(),
            outbox_oldest_s=self._outbox.oldest_age_s(),
            outbox_dropped=self._outbox.dropped,
            cameras=cameras,
            system_cpu_percent=self._system_cpu(),
            system_memory_percent=psutil.virtual_memory().percent,
            disk_used_percent=disk_used_percent(self._data_dir),
            gpu=self._gpu.read(),
            models=self._models() if self._models is not None else [],
        )
        if self.metrics is not None:
            self.metrics.observe(health)
        return health

    def _system_cpu(self) -> float | None:
        before, self._cpu_times = self._cpu_times, psutil.cpu_times()
        return cpu_busy_percent(before, self._cpu_times)

    @staticmethod
    def _camera_health(
        stats: CameraStats,
        frames: dict[str, int],
        analysed: dict[str, int],
        occupancy: dict[str, int],
        elapsed: float,
    ) -> CameraHealth:
        # The camera keeps only its newest frame: one it received and the loop never took
        # was dropped because the models fell behind.
        done = analysed.get(stats.camera_id, 0)
        return CameraHealth(
            camera_id=stats.camera_id,
            connected=stats.connected,
            fps=frames.get(stats.camera_id, 0) / elapsed,
            reconnects=stats.reconnects,
            frames=stats.frames,
            last_frame_age_s=stats.last_frame_age_s,
            dropped=max(0, stats.frames - done),
            occupancy=occupancy.get(stats.camera_id),
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
