"""`station demo` as a user runs it: an alert appears, Ctrl-C stops all, a second run works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devkit.localbroker import free_port
from tests.support.duty_server import wait_until
from tests.support.edge_node import REPO

pytestmark = pytest.mark.integration


def _alerts(port: int) -> list[dict[str, object]]:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/alerts",
            headers={"Authorization": "Bearer dev-token"},
            timeout=5,
        )
    except httpx.TransportError:
        return []
    return list(response.json()["items"]) if response.status_code == 200 else []


def _person_events(port: int) -> int:
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/events",
            params={"kind": "person", "limit": 1},
            headers={"Authorization": "Bearer dev-token"},
            timeout=5,
        )
    except httpx.TransportError:
        return 0
    return int(response.json()["total"]) if response.status_code == 200 else 0


def _run_once(
    workdir: Path, port: int, models_dir: Path, media_dir: Path, seen: int
) -> tuple[str, int]:
    """Run the demo until it reports a detection beyond `seen`, then press Ctrl-C."""
    env = {**os.environ, "UWS_MODELS_DIR": str(models_dir), "UWS_MEDIA_DIR": str(media_dir)}
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "station.cli",
            "demo",
            "--workdir",
            str(workdir),
            "--port",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _person_events(port) > seen, 120, "a new demo detection")
        events = _person_events(port)
        demo.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, output.decode()
    return output.decode(), events


def test_demo_shows_an_alert_and_stops_cleanly_twice(
    tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    port = free_port()
    first, events = _run_once(tmp_path / "demo", port, models_dir, media_dir, seen=0)
    assert f"http://127.0.0.1:{port}/docs" in first
    assert "alert feed (SSE)" in first
    assert "demo stopped" in first
    # Nothing is left listening, and the same state folder starts again cleanly.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    second, _ = _run_once(tmp_path / "demo", port, models_dir, media_dir, seen=events)
    assert "demo stopped" in second
    edge_log = (tmp_path / "demo" / "edge.log").read_text()
    assert edge_log.count("stopped; 0 message(s) left in the outbox") == 2
