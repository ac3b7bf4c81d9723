"""`station demo` as a user runs it: an alert appears, Ctrl-C stops all, a second run works,
and a SIGTERM leaves no process and no port behind.

The one-clip demo (`--clip`, `--model`) keeps this test light; the product demo's two
cameras are seen in a browser in tests/console/test_demo_browser.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from devkit.localbroker import free_port
from tests.support.duty_server import wait_until
from tests.support.edge_node import REPO

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Bearer dev-token"}


def _crowd_alerts(port: int) -> int:
    """Crowd alerts' occurrences so far (the crowd clip is over the demo room's capacity)."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts", headers=AUTH, timeout=5)
    except httpx.TransportError:
        return 0
    if response.status_code != 200:
        return 0
    return sum(int(a["count"]) for a in response.json()["items"] if a["kind"] == "crowd")


def _start(workdir: Path, port: int, models_dir: Path, media_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "UWS_MODELS_DIR": str(models_dir), "UWS_MEDIA_DIR": str(media_dir)}
    clip = media_dir / "crowd" / "people1.mp4"
    model = models_dir / "coco" / "yolov8n_int8.tflite"
    options = ["--workdir", str(workdir), "--port", str(port), "--clip", str(clip)]
    return subprocess.Popen(
        [sys.executable, "-m", "station.cli", "demo", *options, "--model", str(model)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _run_once(
    workdir: Path, port: int, models_dir: Path, media_dir: Path, seen: int, signum: int
) -> tuple[str, int, list[psutil.Process]]:
    """Run the demo until an alert beyond `seen`, then send `signum`; return what it left."""
    demo = _start(workdir, port, models_dir, media_dir)
    try:
        wait_until(lambda: _crowd_alerts(port) > seen, 180, "a crowd alert from the demo")
        count = _crowd_alerts(port)
        children = psutil.Process(demo.pid).children(recursive=True)
        demo.send_signal(signum)
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, output.decode()
    return output.decode(), count, children


def test_demo_shows_an_alert_and_stops_cleanly_twice(
    tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    port = free_port()
    first, count, _ = _run_once(
        tmp_path / "demo",
        port,
        models_dir,
        media_dir,
        0,
        signal.SIGINT,  # what Ctrl-C sends
    )
    assert f"http://127.0.0.1:{port}/docs" in first
    assert "alert feed (SSE)" in first
    assert "demo stopped" in first
    # Nothing is left listening, and the same state folder starts again cleanly.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    second, _, children = _run_once(
        tmp_path / "demo",
        port,
        models_dir,
        media_dir,
        count,
        signal.SIGTERM,  # as systemd
    )
    assert "demo stopped" in second
    # Every part it started is gone, and every port it printed is free again.
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", second)}
    ports |= {int(p) for p in re.findall(r"mosquitto_sub -p (\d+)", second)}
    assert port in ports
    assert len(ports) >= 3  # cloud-duty, the dashboard, the broker
    assert [p for p in ports if _listening(p)] == []
    edge_log = (tmp_path / "demo" / "edge.log").read_text()
    assert edge_log.count("stopped; 0 message(s) left in the outbox") == 2
