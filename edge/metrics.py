"""The node's Prometheus metrics, served by a small HTTP server on the station LAN."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from station.contracts import NodeHealth, StationState

log = logging.getLogger(__name__)

# Model calls on a CPU node take tens to hundreds of ms; buckets cover 5 ms to 5 s.
_INFERENCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0)


class DepthGauge(Protocol):
    """What the metrics read of the durable outbox on each scrape."""

    def depth(self) -> int:
        """Return how many messages wait."""
        ...


class _DeviceCollector(Collector):
    """Availability of each station device, read from the device reporter on each scrape."""

    def __init__(self, devices: Callable[[], StationState]) -> None:
        self._devices = devices

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "uws_node_device_available",
            "1 when the station device's last will says online, else 0.",
            labels=["device"],
        )
        for device in self._devices().devices:
            family.add_metric([device.device_id], 1.0 if device.available == "online" else 0.0)
        yield family


class NodeMetrics:
    """Live counters of the frame loop, plus the figures of the last heartbeat."""

    def __init__(
        self, outbox: DepthGauge, devices: Callable[[], StationState] | None = None
    ) -> None:
        """Read the outbox (and the devices, if the station has any) on each scrape."""
        self.registry = CollectorRegistry()
        self.port: int | None = None
        reg = self.registry
        self.frames = Counter(
            "uws_node_frames_analysed", "Frames analysed per camera.", ["camera"], registry=reg
        )
        self.inference = Histogram(
            "uws_node_inference_seconds",
            "Wall time of one model call over a batch of cameras.",
            buckets=_INFERENCE_BUCKETS,
            registry=reg,
        )
        self.fps = Gauge(
            "uws_node_camera_fps", "Frames analysed per second.", ["camera"], registry=reg
        )
        self.connected = Gauge(
            "uws_node_camera_connected", "1 while frames arrive.", ["camera"], registry=reg
        )
        self.dropped = Gauge(
            "uws_node_camera_dropped_frames", "Frames never analysed.", ["camera"], registry=reg
        )
        self.cpu = Gauge("uws_node_cpu_percent", "Whole-machine CPU use.", registry=reg)
        self.memory = Gauge("uws_node_memory_percent", "Whole-machine memory use.", registry=reg)
        self.disk = Gauge("uws_node_disk_used_percent", "Use of the data disk.", registry=reg)
        self.temperature = Gauge("uws_node_temperature_celsius", "Hottest sensor.", registry=reg)
        self.gpu_busy = Gauge("uws_node_gpu_utilisation_percent", "GPU busy share.", registry=reg)
        self.gpu_memory = Gauge("uws_node_gpu_memory_used_bytes", "GPU memory used.", registry=reg)
        depth = Gauge("uws_node_outbox_depth", "Messages waiting in the outbox.", registry=reg)
        depth.set_function(lambda: float(outbox.depth()))
        if devices is not None:
            reg.register(_DeviceCollector(devices))

    def record_inference(self, ms: float) -> None:
        """Note one model call."""
        self.inference.observe(ms / 1000)

    def record_frame(self, camera_id: str) -> None:
        """Note one frame analysed."""
        self.frames.labels(camera_id).inc()

    def observe(self, health: NodeHealth) -> None:
        """Take the figures of a heartbeat; figures it lacks stay NaN rather than a false 0."""
        for camera in health.cameras:
            self.fps.labels(camera.camera_id).set(camera.fps)
            self.connected.labels(camera.camera_id).set(1.0 if camera.connected else 0.0)
            self.dropped.labels(camera.camera_id).set(camera.dropped or 0)
        gpu = health.gpu
        for gauge, value in (
            (self.cpu, health.system_cpu_percent),
            (self.memory, health.system_memory_percent),
            (self.disk, health.disk_used_percent),
            (self.temperature, health.temperature_c),
            (self.gpu_busy, gpu.utilisation_percent if gpu else None),
            (self.gpu_memory, gpu.memory_used_mb * 2**20 if gpu and gpu.memory_used_mb else None),
        ):
            gauge.set(float("nan") if value is None else value)

    def serve(self, host: str, port: int) -> Callable[[], None]:
        """Serve `/metrics` on host:port in a thread; return the function that stops it."""
        server, thread = start_http_server(port, host, registry=self.registry)
        self.port = int(server.server_port)
        log.info("node metrics on http://%s:%d/metrics", host, self.port)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(5.0)

        return stop
