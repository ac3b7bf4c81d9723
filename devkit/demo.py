"""`station demo`: a broker, cloud-duty on SQLite and one edge node on a sample clip."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import yaml

from devkit.localbroker import BrokerMissingError, LocalBroker, free_port, wait_for_port

logger = logging.getLogger(__name__)

DEMO_TOKEN = "dev-token"  # noqa: S105  # the development placeholder, refused in production
STATION_ID = "demo-station"
NODE_ID = "demo-node-1"


class DemoError(RuntimeError):
    """Something the demo needs is missing; the message says what."""


def _shared(kind: str, env: str, relative: str) -> Path:
    """Find a shared model or media file: $env first, then ../shared next to the checkout."""
    roots = [Path(os.environ[env])] if env in os.environ else []
    roots += [Path.cwd().parent / "shared" / kind, Path(__file__).parents[2] / "shared" / kind]
    for root in roots:
        if (root / relative).is_file():
            return (root / relative).resolve()
    raise DemoError(f"no {relative} under {', '.join(map(str, roots))}; set {env} or pass a path")


def _edge_config(
    workdir: Path, broker_port: int, clip: Path, model: Path, metrics_port: int
) -> Path:
    config = {
        "node_id": NODE_ID,
        "cloud": {"host": "127.0.0.1", "port": broker_port},
        "camera": {"id": "room", "source": str(clip), "loop": True, "realtime": True, "max_fps": 4},
        "detector": {"model": str(model), "imgsz": 640, "confidence": 0.4, "device": "cpu"},
        "analysis": {
            "hazards": ["person"],
            "zone": "room",
            "presence": {"confirm_s": 1.0, "clear_s": 3.0, "update_every_s": 10},
        },
        "outbox": {"path": str(workdir / "edge-outbox.sqlite")},
        "health": {"interval_s": 30, "metrics_port": metrics_port},
        # The simulated station devices share the demo's one broker (a real station has its own).
        "devices": {"broker": {"host": "127.0.0.1", "port": broker_port}},
    }
    path = workdir / "edge.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "station.cli", *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops the parts in order
        )


def _register(api: str) -> None:
    headers = {"Authorization": f"Bearer {DEMO_TOKEN}"}
    station = {"id": STATION_ID, "name": "Demo rest station", "region": "demo", "capacity": 12}
    node = {"id": NODE_ID, "station_id": STATION_ID, "name": "door camera"}
    with httpx.Client(base_url=api, headers=headers, timeout=10) as client:
        for path, body in (("/api/v1/stations", station), ("/api/v1/nodes", node)):
            client.post(path, json=body).raise_for_status()


def _stop(proc: subprocess.Popen[bytes], name: str) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in 15 s; killing it", name)
            proc.kill()
            proc.wait()


def run_demo(args: argparse.Namespace) -> int:
    """Start every part, print where to look, and stop everything on Ctrl-C."""
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    clip = Path(args.clip) if args.clip else _shared("media", "UWS_MEDIA_DIR", "crowd/people1.mp4")
    model = (
        Path(args.model)
        if args.model
        else _shared("models", "UWS_MODELS_DIR", "coco/yolov8n_int8.tflite")
    )
    for path in (clip, model):
        if not path.is_file():
            raise DemoError(f"{path} does not exist")
    broker = LocalBroker(workdir / "broker")
    try:
        broker.start()
    except BrokerMissingError as err:
        raise DemoError(str(err)) from err
    port = args.port if _port_free(args.port) else free_port()
    api = f"http://127.0.0.1:{port}"
    env = {
        "UWS_DATABASE_URL": f"sqlite:///{workdir / 'duty.sqlite'}",
        "UWS_MQTT_PORT": str(broker.port),
        "UWS_API_TOKEN": DEMO_TOKEN,
    }
    parts: list[tuple[str, subprocess.Popen[bytes]]] = []
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        parts.append(
            ("cloud-duty", _spawn(["duty", "--port", str(port)], env, workdir / "duty.log"))
        )
        wait_for_port(port, timeout_s=60)
        _register(api)
        devices = ["devices", "simulate", "--port", str(broker.port), "--scenario", "heatwave"]
        parts.append(("simulated devices", _spawn(devices, {}, workdir / "devices.log")))
        node_metrics = free_port()
        edge_yaml = _edge_config(workdir, broker.port, clip, model, node_metrics)
        parts.append(
            ("edge node", _spawn(["edge", "--config", str(edge_yaml)], {}, workdir / "edge.log"))
        )
        _announce(api, workdir, broker.port, node_metrics)
        return _supervise(parts, stop, args.duration)
    finally:
        for name, proc in reversed(parts):
            _stop(proc, name)
        broker.stop()
        print("demo stopped; state kept in", workdir)  # noqa: T201


def _port_free(port: int) -> bool:
    try:
        wait_for_port(port, timeout_s=0.1)
    except TimeoutError:
        return True
    return False


def _supervise(
    parts: list[tuple[str, subprocess.Popen[bytes]]], stop: threading.Event, duration: float | None
) -> int:
    deadline = time.monotonic() + duration if duration else None
    while not stop.wait(0.5):
        for name, proc in parts:
            if proc.poll() is not None:
                logger.error("%s exited with %s; see its log", name, proc.returncode)
                return 1
        if deadline and time.monotonic() > deadline:
            break
    return 0


def _announce(api: str, workdir: Path, broker_port: int, node_metrics: int) -> None:
    auth = f"-H 'Authorization: Bearer {DEMO_TOKEN}'"
    print(  # noqa: T201
        f"""
worker-station demo is running (Ctrl-C stops it)
  duty console (live alerts): {api}/#token={DEMO_TOKEN}   (or sign in: admin / change-me-please)
  API docs:                   {api}/docs   (token: {DEMO_TOKEN})
  alert feed (SSE):           curl -N {auth} {api}/api/v1/alerts/feed
  alerts:                     curl {auth} {api}/api/v1/alerts
  metrics (Prometheus):       curl {auth} {api}/metrics
                              curl http://127.0.0.1:{node_metrics}/metrics   (the node)
  health:                     curl {api}/healthz
  MQTT:                       mosquitto_sub -p {broker_port} -t 'uws/v1/#' -v
  devices (heat wave script): mosquitto_sub -p {broker_port} -t 'dev/#' -v
  logs:                       {workdir}/duty.log, {workdir}/edge.log
""",
        flush=True,
    )
