"""Processes the project starts stop when told and leave nothing behind: `station dashboard`
is Streamlit itself; a local broker never holds our output and never outlives a failed start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from devkit.localbroker import LocalBroker, free_port
from tests.support.broker import MosquittoBroker
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


def test_a_broker_writes_to_its_own_file_never_to_our_output(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path / "broker")
    broker.start()
    try:
        assert broker._proc is not None
        pid = broker._proc.pid
        # A broker left running must not hold the pipe of whoever started it (a CI runner).
        out = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in (1, 2)}
        assert out == {str(tmp_path / "broker" / "mosquitto.out")}
    finally:
        broker.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_broker_that_does_not_come_up_is_not_left_running(tmp_path: Path) -> None:
    # It listens elsewhere than where start() waits for it: start() gives up after its wait.
    elsewhere = free_port()
    config = f"listener {elsewhere} 127.0.0.1\nallow_anonymous true\n"
    broker = LocalBroker(tmp_path / "broker", port=free_port(), config_text=config)
    before = {p.pid for p in psutil.Process().children()}
    with pytest.raises(TimeoutError):
        broker.start()
    started = [p for p in psutil.Process().children() if p.pid not in before]
    assert [p for p in started if "mosquitto" in p.name()] == []
    assert not _listening(elsewhere)


def test_a_sigterm_while_the_demo_starts_its_parts_leaves_none_behind(
    tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    workdir = tmp_path / "demo"
    options = ["--workdir", str(workdir), "--port", str(free_port())]
    options += ["--clip", str(media_dir / "crowd" / "people1.mp4")]
    options += ["--model", str(models_dir / "coco" / "yolov8n_int8.tflite")]
    command = [sys.executable, "-m", "station.cli", "demo", *options]
    with (tmp_path / "demo.log").open("wb") as log:
        demo = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        # cloud-duty is starting (it takes seconds): the demo waits for it, mid-start.
        wait_until((workdir / "duty.log").exists, 60, "cloud-duty started")
        children = psutil.Process(demo.pid).children(recursive=True)
        kinds = {_kind(c) for c in children}
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert {"mosquitto", "python"} <= kinds  # the broker and cloud-duty were running
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    printed = (tmp_path / "demo.log").read_text()
    assert "demo stopped" in printed
    assert "did not stop in time" not in printed  # each part ended on its SIGTERM


def _kind(process: psutil.Process) -> str:
    try:
        return "mosquitto" if "mosquitto" in process.name() else "python"
    except psutil.NoSuchProcess:
        return "gone"


def test_a_sigterm_stops_the_simulated_devices_before_their_duration(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    command = [sys.executable, "-m", "station.cli", "devices", "simulate"]
    command += ["--port", str(broker.port), "--scenario", "idle", "--duration", "3600"]
    with (tmp_path / "devices.log").open("wb") as log:
        proc = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(
            lambda: "simulated devices on" in (tmp_path / "devices.log").read_text(), 60, "up"
        )
        proc.send_signal(signal.SIGTERM)
        # Its --duration timer once kept the process alive for the whole hour.
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
