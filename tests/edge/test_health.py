"""The node's heartbeat and metrics: per-camera fps and dropped frames, machine figures, the
GPU where there is one (none is not an error), and `/metrics` over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from edge.accelerator import NoGpu, NvmlProbe, parse_tegrastats
from edge.camera import CameraStats
from edge.health import HealthReporter, disk_used_percent
from edge.link.outbox import Outbox
from edge.metrics import NodeMetrics
from station.contracts import DeviceSnapshot, GpuHealth, NodeHealth, StationState, utcnow

# A real tegrastats line of a Jetson Orin Nano (JetPack 6), as its README documents.
TEGRASTATS = (
    "12-03-2026 10:00:01 RAM 2448/7620MB (lfb 2x4MB) SWAP 0/3810MB (cached 0MB) "
    "CPU [12%@1510,8%@1510,0%@1510,3%@1510,off,off] EMC_FREQ 0% GR3D_FREQ 37% "
    "cpu@48.5C soc2@47.1C soc0@47.9C gpu@47.3C tj@48.5C soc1@47.5C VDD_IN 5123mW/5123mW"
)


class FakeCamera:
    """Counters as a camera thread would keep them."""

    def __init__(self, camera_id: str, frames: int, connected: bool = True) -> None:
        self.stats_now = CameraStats(camera_id, connected, 0, frames, 0.2 if frames else None)

    def stats(self) -> CameraStats:
        return self.stats_now


class FixedGpu:
    """A GPU that always reads the same."""

    def read(self) -> GpuHealth | None:
        return GpuHealth(name="test", utilisation_percent=42, memory_used_mb=512)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite")
    yield box
    box.close()


def test_heartbeat_carries_cameras_machine_and_no_gpu(outbox: Outbox, tmp_path: Path) -> None:
    outbox.put("uws/v1/node-1/event", b"{}")
    cameras = [FakeCamera("door", 10), FakeCamera("room", 0, connected=False)]
    reporter = HealthReporter("node-1", cameras, outbox, data_dir=tmp_path, gpu=NoGpu())
    for _ in range(4):
        reporter.record_frame("door")
    reporter.record_inference(30.0)
    reporter.record_inference(50.0)
    beat = reporter.collect()
    door, room = beat.cameras
    assert door.dropped == 6, "10 frames received, 4 analysed"
    assert door.fps > 0
    assert room.fps == 0
    assert not room.connected
    assert beat.inference_ms == 40.0
    assert beat.outbox_depth == 1
    assert beat.gpu is None
    assert beat.disk_used_percent is not None
    assert 0 < beat.disk_used_percent <= 100
    assert beat.system_memory_percent is not None
    wire = NodeHealth.model_validate_json(beat.to_payload())
    assert wire == beat
    assert reporter.collect().inference_ms == 0.0, "each heartbeat covers its own interval"


def test_system_cpu_is_measured_between_heartbeats(outbox: Outbox, tmp_path: Path) -> None:
    reporter = HealthReporter("node-1", [], outbox, data_dir=tmp_path)
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass  # keep one core busy so the machine cannot read idle
    psutil.cpu_percent(None)  # another caller in the process must not reset our baseline
    busy = reporter.collect().system_cpu_percent
    assert busy is not None
    assert busy > 0


def test_missing_disk_reads_as_none(tmp_path: Path) -> None:
    assert disk_used_percent(tmp_path / "not-there") is None


def test_tegrastats_line_gives_gpu_busy_and_shared_memory() -> None:
    gpu = parse_tegrastats(TEGRASTATS)
    assert gpu == GpuHealth(
        name="tegra", utilisation_percent=37, memory_used_mb=2448, memory_total_mb=7620
    )
    assert parse_tegrastats("nothing useful") is None


def test_nvml_without_a_driver_is_no_gpu_not_an_error() -> None:
    # This machine has no NVIDIA driver: opening NVML fails quietly.
    assert NvmlProbe.open() is None


def test_metrics_server_serves_node_figures(outbox: Outbox, tmp_path: Path) -> None:
    outbox.put("uws/v1/node-1/event", b"{}")
    outbox.put("uws/v1/node-1/event", b"{}")
    station = StationState(
        node_id="node-1",
        ts=utcnow(),
        devices=[
            DeviceSnapshot(device_id="door-lock", available="online"),
            DeviceSnapshot(device_id="fan", available="offline"),
        ],
    )
    metrics = NodeMetrics(outbox, lambda: station)
    cameras = [FakeCamera("door", 3)]
    reporter = HealthReporter(
        "node-1", cameras, outbox, data_dir=tmp_path, gpu=FixedGpu(), metrics=metrics
    )
    reporter.record_frame("door")
    reporter.record_inference(120.0)
    reporter.collect()
    stop = metrics.serve("127.0.0.1", 0)
    try:
        port = _port_of(metrics)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        stop()
    assert 'uws_node_frames_analysed_total{camera="door"} 1.0' in text
    assert "uws_node_inference_seconds_count 1.0" in text
    assert 'uws_node_camera_dropped_frames{camera="door"} 2.0' in text
    assert "uws_node_outbox_depth 2.0" in text
    assert 'uws_node_device_available{device="door-lock"} 1.0' in text
    assert 'uws_node_device_available{device="fan"} 0.0' in text
    assert "uws_node_gpu_utilisation_percent 42.0" in text
    assert "uws_node_gpu_memory_used_bytes 5.36870912e+08" in text


def _port_of(metrics: NodeMetrics) -> int:
    port = metrics.port
    assert port is not None
    return port
