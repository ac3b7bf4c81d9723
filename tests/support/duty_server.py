"""cloud-duty served by uvicorn in a thread on a free port, and an SSE reader for its feed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn

from devkit.localbroker import free_port
from station.duty.app import create_app
from station.duty.services import services_of
from station.duty.settings import DutySettings

TOKEN = "integration-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class DutyServer:
    """A real cloud-duty replica: HTTP on a free port, ingest on the given broker."""

    def __init__(self, database_url: str, broker_port: int, **overrides: Any) -> None:
        self.settings = DutySettings(
            database_url=database_url,
            mqtt_port=broker_port,
            api_token=TOKEN,
            mqtt_client_id=overrides.pop("mqtt_client_id", "duty-test"),
            **overrides,
        )
        self.app = create_app(self.settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # an open SSE stream would hold shutdown for 30 s
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> DutyServer:
        """Serve, and wait until ingest is connected to the broker."""
        self._thread.start()
        wait_until(lambda: self._server.started, 30, "uvicorn start")
        ingest = services_of(self.app).ingest
        assert ingest is not None
        wait_until(ingest.connected.is_set, 30, "ingest connect")
        return self

    def stop(self) -> None:
        """Shut down through the lifespan, as on SIGTERM."""
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def client(self) -> httpx.Client:
        """An authorised HTTP client."""
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=10)

    def node_token(self, node_id: str) -> str:
        """Issue (or rotate) a node's own API credential, as an admin would."""
        with self.client() as http:
            issued = http.post(f"/api/v1/nodes/{node_id}/credentials")
            issued.raise_for_status()
        return str(issued.json()["api_token"])

    def node_client(self, node_id: str) -> httpx.Client:
        """An HTTP client holding the node's own credential, as the node has it."""
        headers = {"Authorization": f"Bearer {self.node_token(node_id)}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def register(self, station: str, *nodes: str) -> None:
        """Register a station and its nodes through the API."""
        with self.client() as http:
            http.post("/api/v1/stations", json={"id": station, "name": station}).raise_for_status()
            for node in nodes:
                body = {"id": node, "station_id": station}
                http.post("/api/v1/nodes", json=body).raise_for_status()


class FeedReader:
    """Reads the SSE alert feed in a thread and keeps every event it got."""

    def __init__(self, url: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.error: httpx.HTTPError | None = None
        self._url = url
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> FeedReader:
        """Connect and wait until the stream is open."""
        self._thread.start()
        if not self._connected.wait(15):
            raise TimeoutError("the SSE feed did not open")
        return self

    def stop(self) -> None:
        """Stop keeping events; the daemon thread ends with the stream or the test run."""
        self._stop.set()
        self._thread.join(timeout=0.5)

    def _read(self) -> None:
        # No read timeout: a timeout inside iter_lines would end the stream for good.
        try:
            with (
                httpx.Client(headers=AUTH, timeout=httpx.Timeout(10, read=None)) as http,
                http.stream("GET", f"{self._url}/api/v1/alerts/feed") as response,
            ):
                response.raise_for_status()
                self._connected.set()
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith("data:"):
                        self.events.append(json.loads(line[5:].strip()))
        except httpx.HTTPError as err:
            # The server closing the stream after the test stopped reading is expected.
            if not self._stop.is_set():
                self.error = err


def wait_until(check: Callable[[], object], timeout_s: float, what: str) -> None:
    """Poll `check` until it is truthy, or fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
