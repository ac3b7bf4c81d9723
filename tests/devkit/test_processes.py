"""Processes the project starts stop when told: `station dashboard` is Streamlit itself."""

from __future__ import annotations

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


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_sigterm_to_station_dashboard_leaves_no_streamlit_behind(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "station.cli", "dashboard", "--port", str(port)]
    command += ["--duty-url", "http://127.0.0.1:9"]
    with (tmp_path / "dashboard.log").open("wb") as log:
        proc = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).is_success
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 90, "streamlit to serve")
        # The process we started is the server: no child of it holds the port.
        assert "streamlit" in " ".join(psutil.Process(proc.pid).cmdline())
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    assert not _listening(port)
