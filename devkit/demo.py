"""`station demo`: a broker, cloud-duty on SQLite, simulated devices, one edge node with two
cameras and QR entry, and the managers' dashboard; Ctrl-C or SIGTERM stops every part."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from devkit.demo_station import (
    ADMIN_PASSWORD,
    DEMO_TOKEN,
    DemoError,
    clip_config,
    find_shared,
    issue_code,
    node_watching,
    product_config,
    register,
    write_config,
)
from devkit.localbroker import BrokerMissingError, LocalBroker, free_port, wait_for_port

__all__ = ["DemoError", "run_demo"]

logger = logging.getLogger(__name__)

_CHECK_EVERY_S = 2.0
_SUPERVISING = threading.Event()  # set once every part is up: a signal then stops calmly
_SPAWNING = threading.Event()  # set while a part starts: a signal then stops after it
_STOP_WAIT_S = 15


class Part:
    """One child process of the demo, in its own process group, stopped with it."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        """Start `station <args>` with its output in `log`."""
        self.name = name
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "station.cli", *args],
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the demo only; it stops the parts
            )

    def terminate(self) -> None:
        """Ask it to stop: SIGTERM to its process group."""
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)

    def stop(self, deadline: float) -> None:
        """Wait for it until `deadline` (monotonic), then SIGKILL whatever is left of it."""
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in time; killing it", self.name)
        # Anything it started and left behind goes with its group.
        self._signal(signal.SIGKILL)
        self.proc.wait()

    def _signal(self, signum: signal.Signals) -> None:
        try:
            os.killpg(self.proc.pid, signum)
        except ProcessLookupError:
            return


def run_demo(args: argparse.Namespace) -> int:
    """Start every part, print where to look, and stop everything on Ctrl-C or SIGTERM."""
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    single = _single_camera(args)
    broker = LocalBroker(workdir / "broker")
    parts: list[Part] = []
    stop = threading.Event()
    # Before the broker starts: a signal from here on stops whatever has started, broker too.
    previous = {s: signal.signal(s, _stopping(stop)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        _start_broker(broker)
        port = args.port if _port_free(args.port) else free_port()
        dash_port = free_port()
        api = f"http://127.0.0.1:{port}"
        env = {
            "UWS_DATABASE_URL": f"sqlite:///{workdir / 'duty.sqlite'}",
            "UWS_MQTT_PORT": str(broker.port),
            "UWS_API_TOKEN": DEMO_TOKEN,
            "UWS_SNAPSHOT_DIR": str(workdir / "snapshots"),
        }
        _start(parts, stop, "cloud-duty", ["duty", "--port", str(port)], env, workdir / "duty.log")
        wait_for_port(port, timeout_s=60)
        entry = register(api, entry=single is None)
        scenario = "heatwave" if single is not None else "walk-in"
        devices = ["devices", "simulate", "--port", str(broker.port), "--scenario", scenario]
        _start(parts, stop, "simulated devices", devices, {}, workdir / "devices.log")
        if single is not None:
            config = clip_config(workdir, broker.port, *single)
        else:
            assert entry is not None
            config = product_config(workdir, broker.port, api, entry)
        node_metrics = free_port()
        config["health"]["metrics_port"] = node_metrics
        edge = ["edge", "--config", str(write_config(workdir, config))]
        _start(parts, stop, "edge node", edge, {}, workdir / "edge.log")
        dashboard = ["dashboard", "--port", str(dash_port), "--duty-url", api]
        _start(parts, stop, "dashboard", dashboard, {}, workdir / "dashboard.log")
        _announce(api, f"http://127.0.0.1:{dash_port}", workdir, broker.port, node_metrics)
        door = None if entry is None else WorkerAtDoor(workdir, api, entry.member_id)
        return _supervise(parts, stop, args.duration, door)
    except _StoppedWhileStarting:
        return 0
    finally:
        stop.set()  # a signal now changes nothing: the parts are being stopped
        # The station's parts stop together, then cloud-duty: the node's last events still
        # reach it and are receipted, and the slowest part sets the pace, not their sum.
        _stop_together(parts[1:])
        _stop_together(parts[:1])
        broker.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        print("demo stopped; state kept in", workdir, flush=True)  # noqa: T201


def _start(
    parts: list[Part],
    stop: threading.Event,
    name: str,
    args: list[str],
    env: dict[str, str],
    log: Path,
) -> None:
    """Start a part and add it to `parts`; a signal meanwhile stops the start only once it is
    there (a stop raised in between would leave the child running with nobody to stop it)."""
    _SPAWNING.set()
    try:
        parts.append(Part(name, args, env, log))
    finally:
        _SPAWNING.clear()
    if stop.is_set():
        raise _StoppedWhileStarting


def _start_broker(broker: LocalBroker) -> None:
    try:
        broker.start()
    except BrokerMissingError as err:
        raise DemoError(str(err)) from err


def _stop_together(parts: list[Part]) -> None:
    for part in parts:
        part.terminate()
    deadline = time.monotonic() + _STOP_WAIT_S
    for part in parts:
        part.stop(deadline)


class _StoppedWhileStarting(Exception):  # noqa: N818  # a signal, not an error
    """Ctrl-C or SIGTERM before every part was up."""


def _stopping(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    """A signal handler: stop the demo, at once if it is still starting its parts."""

    def handle(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            return
        stop.set()
        if not _SUPERVISING.is_set() and not _SPAWNING.is_set():
            raise _StoppedWhileStarting

    return handle


def _single_camera(args: argparse.Namespace) -> tuple[Path, Path] | None:
    """The earlier one-clip demo when --clip or --model is given, else None."""
    if not (args.clip or args.model):
        return None
    crowd = find_shared("media", "UWS_MEDIA_DIR", "crowd/people1.mp4")
    clip = Path(args.clip) if args.clip else crowd
    model = (
        Path(args.model)
        if args.model
        else find_shared("models", "UWS_MODELS_DIR", "coco/yolov8n_int8.tflite")
    )
    if clip is None or model is None:
        raise DemoError("--clip and --model: name both (no shared crowd clip or COCO model)")
    for path in (clip, model):
        if not path.is_file():
            raise DemoError(f"{path} does not exist")
    return clip, model


class WorkerAtDoor:
    """A worker who shows their entry code at the door once the node is watching."""

    def __init__(self, workdir: Path, api: str, member_id: str) -> None:
        """Wait at this demo's door as this member."""
        self._scanner = workdir / "scanner.txt"
        self._api = api
        self._member_id = member_id
        self._next_check = 0.0
        self.done = False

    def step(self, now: float) -> None:
        """Show the code once the node analyses frames (checked every few seconds)."""
        if self.done or now < self._next_check:
            return
        self._next_check = now + _CHECK_EVERY_S
        if not node_watching(self._api):
            return
        code = issue_code(self._api, self._member_id)
        with self._scanner.open("a", encoding="utf-8") as scanner:
            scanner.write(code + "\n")  # what a keyboard-wedge scanner types
        logger.info("a worker showed an entry code at the door")
        self.done = True


def _port_free(port: int) -> bool:
    try:
        wait_for_port(port, timeout_s=0.1)
    except TimeoutError:
        return True
    return False


def _supervise(
    parts: list[Part],
    stop: threading.Event,
    duration: float | None,
    door: WorkerAtDoor | None,
) -> int:
    _SUPERVISING.set()
    try:
        return _watch(parts, stop, duration, door)
    finally:
        _SUPERVISING.clear()


def _watch(
    parts: list[Part],
    stop: threading.Event,
    duration: float | None,
    door: WorkerAtDoor | None,
) -> int:
    started = time.monotonic()
    deadline = started + duration if duration else None
    while not stop.wait(0.5):
        for part in parts:
            if part.proc.poll() is not None:
                logger.error("%s exited with %s; see its log", part.name, part.proc.returncode)
                return 1
        if door is not None:
            door.step(time.monotonic())
        if deadline and time.monotonic() > deadline:
            break
    return 0


def _announce(api: str, dashboard: str, workdir: Path, broker_port: int, node_metrics: int) -> None:
    auth = f"-H 'Authorization: Bearer {DEMO_TOKEN}'"
    print(  # noqa: T201
        f"""
worker-station 演示已启动 / demo is running (Ctrl-C 停止 / stops it)
  值班控制台 duty console (live alerts): {api}/#token={DEMO_TOKEN}
                              (or sign in: admin / {ADMIN_PASSWORD})
  管理看板 dashboard (managers): {dashboard}   (admin / {ADMIN_PASSWORD})
  API docs:                   {api}/docs   (token: {DEMO_TOKEN})
  alert feed (SSE):           curl -N {auth} {api}/api/v1/alerts/feed
  alerts:                     curl {auth} {api}/api/v1/alerts
  metrics (Prometheus):       curl {auth} {api}/metrics
                              curl http://127.0.0.1:{node_metrics}/metrics   (the node)
  health:                     curl {api}/healthz
  MQTT:                       mosquitto_sub -p {broker_port} -t 'uws/v1/#' -v
  devices:                    mosquitto_sub -p {broker_port} -t 'dev/#' -v
  logs:                       {workdir}/duty.log, {workdir}/edge.log, {workdir}/dashboard.log
""",
        flush=True,
    )
