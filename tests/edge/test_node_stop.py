"""A real node ends on SIGTERM, with status 0 and within the stop deadline, whatever it is
doing: loading its models, or downloading a new one from a registry that has stalled."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edge.shutdown import STOP_DEADLINE_S
from station.contracts import NODE_CREDENTIAL_PREFIX
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import wait_until
from tests.support.edge_node import EdgeProcess, write_edge_config

pytestmark = pytest.mark.integration

NODE = "node-s"
VERSION = "v9"
WEIGHTS_BYTES = 50_000_000


class StalledRegistry(ThreadingHTTPServer):
    """cloud-duty's model registry over a link that has all but stalled: it assigns a version,
    then sends its weights a kilobyte at a time (never slow enough for a read timeout)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.downloading = threading.Event()
        self.closed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StalledRegistry

    def do_GET(self) -> None:
        """The two calls the node's updater makes."""
        if self.path == f"/api/v1/nodes/{NODE}/models":
            assignment = (
                f'[{{"slot": "detector", "version": "{VERSION}", "sha256": "{"0" * 64}", '
                '"format": "pt", "classes": ["person"]}]'
            ).encode()
            self._answer(len(assignment))
            self.wfile.write(assignment)
        elif self.path == f"/api/v1/models/{VERSION}/weights":
            self._answer(WEIGHTS_BYTES)
            self.server.downloading.set()
            self._trickle()
        else:
            self.send_error(404)

    def _answer(self, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _trickle(self) -> None:
        try:
            while not self.server.closed.is_set():
                self.wfile.write(b"\0" * 1024)
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            return  # the node hung up

    def log_message(self, *_args: object) -> None:
        """Quiet."""


@pytest.fixture
def registry() -> Iterator[StalledRegistry]:
    server = StalledRegistry()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.closed.set()
    server.shutdown()
    server.server_close()


def _node(
    tmp_path: Path, broker: MosquittoBroker, models_dir: Path, media_dir: Path, duty_url: str
) -> EdgeProcess:
    rollout = {
        "duty_url": duty_url,
        "duty_token": f"{NODE_CREDENTIAL_PREFIX}stalled-registry-test-token",
        "dir": "models",
        "poll_s": 1,
    }
    config = write_edge_config(
        tmp_path,
        broker.port,
        models_dir,
        media_dir,
        NODE,
        health={"interval_s": 1, "metrics_port": 0},
        rollout=rollout,
    )
    return EdgeProcess(config, tmp_path / "node.log").start()


def test_sigterm_during_a_stalled_model_download_ends_the_node_cleanly(
    broker: MosquittoBroker,
    registry: StalledRegistry,
    tmp_path: Path,
    models_dir: Path,
    media_dir: Path,
) -> None:
    node = _node(tmp_path, broker, models_dir, media_dir, registry.url)
    try:
        # Generous: the node loads its model and needs a heartbeat to compare with first.
        assert registry.downloading.wait(180), node.log()[-3000:]
        assert node.stop(timeout_s=STOP_DEADLINE_S) == 0, node.log()[-3000:]
    finally:
        node.kill()
    log = node.log()
    assert f"download of {VERSION} cut short: stopping" in log
    assert "swapped in" not in log
    assert f"node {NODE} stopped" in log


def test_sigterm_while_the_models_load_ends_the_node_cleanly(
    broker: MosquittoBroker,
    registry: StalledRegistry,
    tmp_path: Path,
    models_dir: Path,
    media_dir: Path,
) -> None:
    node = _node(tmp_path, broker, models_dir, media_dir, registry.url)
    try:
        wait_until(lambda: "loading its models" in node.log(), 120, "the model load")
        assert node.stop(timeout_s=STOP_DEADLINE_S) == 0, node.log()[-3000:]
    finally:
        node.kill()
    assert not registry.downloading.is_set()
