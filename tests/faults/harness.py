"""The fault suite's parts: node and replica processes, a WAN that can be cut, and the ledger
that checks, while faults strike and at the end, that nothing was lost or doubled.

A `Site` is one run: a Mosquitto, cloud-duty on its own PostgreSQL database with SMS (Aliyun)
and voice (Tencent) pointed at the fake provider, two people on duty, and simulated nodes
(`node_main`, the real uplink and outbox) in their own processes. A poster plays the
provider's receipt callbacks for every text or call the fake accepted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from devkit.localbroker import free_port, wait_for_port
from station.duty.alerting.deliveries import RetryPolicy
from station.duty.db import make_engine
from tests.faults.node_main import event_id
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import AUTH, TOKEN, DutyServer, wait_until
from tests.support.phone_provider import KEY_ID, SECRET, FakeProvider, fake_provider
from tests.support.private_postgres import PrivatePostgres

REPO = Path(__file__).resolve().parents[2]
CALLBACK_KEY = "fault-callback-key-0123456789"
PHONES = {"wang": "+8613800000001", "li": "+8613800000002"}
CONFIRM_S = 3.0


def phone_channels(provider_url: str) -> dict[str, dict[str, Any]]:
    """Aliyun SMS and Tencent voice, both at the fake provider."""
    common = {"key_id": KEY_ID, "key_secret": SECRET, "endpoint": provider_url, "timeout_s": 0.5}
    return {
        "sms": {"kind": "sms", "provider": "aliyun", "template": "SMS_1", **common},
        "voice": {"kind": "voice", "provider": "tencent", "template": "9", "app_id": "1", **common},
    }


def duty_settings(tmp: Path, provider_url: str) -> dict[str, Any]:
    """The settings every replica of a site shares."""
    return {
        "key_file": str(tmp / "keys.json"),
        "ingest_batch_wait_ms": 0,
        "notifiers": phone_channels(provider_url),
        "page_confirm_s": CONFIRM_S,
        "provider_callback_secret": CALLBACK_KEY,
        "delivery_retry": RetryPolicy(attempts=1),
    }


class TcpProxy:
    """A node's WAN: a TCP relay to the broker that can be cut (connections dropped and new
    ones refused) and restored on the same port."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self._upstream = upstream_port
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def restore(self) -> None:
        """Accept connections again."""
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream), timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    _close(source)
    _close(sink)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@dataclass
class NodeProcess:
    """A simulated node in its own process; kill() is kill -9, start() resumes."""

    node: str
    folder: Path
    port: int
    count: int
    rate: float = 40.0
    max_rows: int = 50_000
    health_every: int = 0
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or resume) publishing."""
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "tests.faults.node_main", "--node", self.node]
        command += ["--port", str(self.port), "--folder", str(self.folder)]
        command += ["--count", str(self.count), "--rate", str(self.rate)]
        command += ["--max-rows", str(self.max_rows), "--health-every", str(self.health_every)]
        self._proc = subprocess.Popen(command, cwd=REPO, env=_child_env())

    def kill(self) -> None:
        """kill -9."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()
            self._proc = None

    def stop(self) -> None:
        """SIGTERM, then kill -9 if it lingers."""
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        self._proc = None

    def produced(self) -> int:
        """How many events the node has durably produced."""
        progress = self.folder / "progress"
        return int(progress.read_text()) if progress.exists() else 0

    def queued_events(self) -> set[str]:
        """Ids of the events still in the node's outbox (not yet receipted)."""
        path = self.folder / "outbox.sqlite"
        if not path.exists():
            return set()
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
            rows = conn.execute("SELECT payload FROM outbox WHERE topic LIKE '%/event'").fetchall()
        return {json.loads(payload)["event_id"] for (payload,) in rows}


class ReplicaProcess:
    """A cloud-duty replica under uvicorn in its own process, so it can be killed with -9."""

    def __init__(self, database_url: str, broker_port: int, client_id: str, tmp: Path, url: str):
        self.port = free_port()
        settings = duty_settings(tmp, url)
        env = {
            "UWS_DATABASE_URL": database_url,
            "UWS_MQTT_PORT": str(broker_port),
            "UWS_API_TOKEN": TOKEN,
            "UWS_MQTT_CLIENT_ID": client_id,
            "UWS_KEY_FILE": settings["key_file"],
            "UWS_INGEST_BATCH_WAIT_MS": "0",
            "UWS_NOTIFIERS": json.dumps(settings["notifiers"]),
            "UWS_PAGE_CONFIRM_S": str(CONFIRM_S),
            "UWS_PROVIDER_CALLBACK_SECRET": CALLBACK_KEY,
            "UWS_DELIVERY_RETRY": '{"attempts": 1}',
        }
        command = [sys.executable, "-m", "uvicorn", "station.duty.app:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        self._proc = subprocess.Popen(command, cwd=REPO, env={**_child_env(), **env})

    def wait_ready(self) -> None:
        """Wait until it serves and its ingest is connected."""
        wait_for_port(self.port, 180)

        def connected() -> bool:
            try:
                answer = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
            except httpx.HTTPError:
                return False
            return bool(answer.json().get("broker_connected"))

        wait_until(connected, 30, "replica ingest")

    def kill(self) -> None:
        """kill -9."""
        self._proc.send_signal(signal.SIGKILL)
        self._proc.wait()

    def stop(self) -> None:
        """SIGTERM, then kill -9 if it lingers."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def kill_broker(broker: MosquittoBroker) -> None:
    """kill -9 the broker: no chance to save its state."""
    proc = broker._proc
    if proc is not None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        broker._proc = None


def terminate_backends(engine: Engine, database: str) -> int:
    """Cut every PostgreSQL connection to the database but this one."""
    with engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).scalar_one()
        conn.commit()
    return int(killed)


class ReceiptPoster:
    """Plays the provider's callbacks: a delivered receipt for each accepted text or call."""

    def __init__(self, provider: FakeProvider, duty_url: str) -> None:
        self._provider = provider
        self._url = duty_url
        self._done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ReceiptPoster:
        """Post in a thread until stopped."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop posting."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, params={"key": CALLBACK_KEY}, timeout=10) as http:
            while not self._stop.wait(0.3):
                # A real receipt comes seconds after the send, never before the sender has
                # recorded the message id: hold each back half a second.
                ready = [s for s in self._provider.sent if s.at < time.monotonic() - 0.5]
                for sent in ready[self._done :]:
                    try:
                        _post_receipt(http, sent.action, sent.message_id)
                    except httpx.HTTPError:
                        break  # try again next round
                    self._done += 1


def _post_receipt(http: httpx.Client, action: str, message_id: str) -> None:
    if action == "SendSms":
        body: Any = [{"biz_id": message_id, "success": True, "err_code": "DELIVERED"}]
        http.post("/api/v1/providers/aliyun/sms-reports", json=body).raise_for_status()
    else:
        body = {"voiceprompt_callback": {"callid": message_id, "result": "0"}}
        http.post("/api/v1/providers/tencent/voice", json=body).raise_for_status()


@dataclass
class Tally:
    """What one run produced and stored: a line of the fault table."""

    fault: str
    seed: int
    produced: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    pages_delivered: int = 0
    pages_failed_over: int = 0
    violations: list[str] = field(default_factory=list)


RESULTS: list[Tally] = []
"""Every run of this session, for the table printed at its end."""


class Ledger:
    """Checks that every event a node dropped from its outbox (receipted) is stored."""

    def __init__(self, engine: Engine, nodes: list[NodeProcess]) -> None:
        self.engine = engine
        self.nodes = nodes
        self.violations: list[str] = []
        self.checks = 0

    def stored_ids(self) -> list[str]:
        """Every stored event id of the site's nodes (a list: doubles would show)."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT id FROM event")).all()
        return [row[0] for row in rows]

    def check_acknowledged_are_stored(self) -> None:
        """Produced and no longer queued means receipted: it must be in the database."""
        for node in self.nodes:
            produced = node.produced()
            try:
                queued = node.queued_events()
            except sqlite3.Error:
                continue  # the node is mid-restart; the next check reads it
            receipted = {event_id(node.node, i) for i in range(produced)} - queued
            missing = receipted - set(self.stored_ids())
            if missing:
                self.violations.append(f"{node.node}: receipted, not stored: {sorted(missing)}")
        self.checks += 1

    @contextmanager
    def watching(self, every_s: float = 0.5) -> Iterator[None]:
        """Check the invariant in a thread while the block runs."""
        stop = threading.Event()

        def run() -> None:
            while not stop.wait(every_s):
                try:
                    self.check_acknowledged_are_stored()
                except Exception as err:  # a database cut mid-check: check again later
                    if "terminat" not in str(err) and "connection" not in str(err).lower():
                        self.violations.append(f"check failed: {err!r}")

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)


@dataclass
class Site:
    """One fault run's world."""

    tmp: Path
    pg_url: str
    broker: MosquittoBroker
    provider: FakeProvider
    duty: DutyServer
    engine: Engine
    nodes: list[NodeProcess]
    stack: ExitStack
    postgres: PrivatePostgres | None = None  # the site's own server, where a fault kills it


@contextmanager
def site(
    tmp: Path,
    pg_url: str,
    node_count: int = 2,
    events: int = 40,
    postgres: PrivatePostgres | None = None,
) -> Iterator[Site]:
    """Start the broker, the provider, one replica and the nodes' folders (not the nodes)."""
    with ExitStack() as stack:
        broker = MosquittoBroker(tmp / "broker")
        broker.start()
        stack.callback(broker.stop)
        provider = stack.enter_context(fake_provider())
        duty = DutyServer(
            pg_url, broker.port, mqtt_client_id="duty-a", **duty_settings(tmp, provider.url)
        ).start()
        stack.callback(duty.stop)
        engine = make_engine(pg_url)
        stack.callback(engine.dispose)
        names = [f"fn{i}" for i in range(node_count)]
        _register(duty, names)
        nodes = [NodeProcess(n, tmp / n, broker.port, events) for n in names]
        for node in nodes:
            # Teardown only: every check is done, nothing the node holds matters any more.
            stack.callback(node.kill)
        poster = ReceiptPoster(provider, duty.url).start()
        stack.callback(poster.stop)
        yield Site(tmp, pg_url, broker, provider, duty, engine, nodes, stack, postgres)


def _register(duty: DutyServer, nodes: list[str]) -> None:
    with httpx.Client(base_url=duty.url, headers=AUTH, timeout=10) as http:
        for node in nodes:
            station = {"id": f"st-{node}", "name": node}
            http.post("/api/v1/stations", json=station).raise_for_status()
            http.post("/api/v1/nodes", json={"id": node, "station_id": station["id"]})
        for name, phone in PHONES.items():
            user = {"username": name, "password": f"{name}-password-1", "role": "duty"}
            http.post("/api/v1/users", json={**user, "phone": phone}).raise_for_status()
            rotation = {"name": name, "level": 1, "members": [name], "starts_on": "2026-01-01"}
            http.post("/api/v1/rotations", json=rotation).raise_for_status()


def settle(s: Site, ledger: Ledger, timeout_s: float = 180) -> None:
    """Wait until every node produced everything, every outbox drained, every page ended."""

    def drained() -> bool:
        return all(n.produced() == n.count and not n.queued_events() for n in s.nodes)

    wait_until(drained, timeout_s, "every event produced and receipted")
    ledger.check_acknowledged_are_stored()
    wait_until(lambda: _pages_settled(s.engine), 240, "every page delivered")


def _pages_settled(engine: Engine) -> bool:
    with engine.connect() as conn:
        alerts = conn.execute(text("SELECT count(*) FROM alert")).scalar_one()
        rows = conn.execute(text("SELECT alert_id, state FROM page")).all()
    paged = {alert_id for alert_id, _ in rows}
    return len(paged) == alerts and all(state == "delivered" for _, state in rows)


def tally(s: Site, ledger: Ledger, fault: str, seed: int) -> Tally:
    """Count what was produced and stored, and check alerts and pages."""
    result = Tally(fault, seed, violations=list(ledger.violations))
    expected = {event_id(n.node, i) for n in s.nodes for i in range(n.count)}
    stored = ledger.stored_ids()
    result.produced, result.stored = len(expected), len(set(stored) & expected)
    result.lost = len(expected - set(stored))
    with s.engine.connect() as conn:
        # The hazards the nodes sent; a killed node may also raise station_offline, rightly.
        alerts = conn.execute(
            text(
                "SELECT station_id, kind, zone, status, count FROM alert"
                " WHERE kind IN ('fall', 'smoke')"
            )
        ).all()
        pages = conn.execute(
            text(
                "SELECT page.state, page.position FROM page JOIN alert ON alert.id = page.alert_id"
                " WHERE alert.kind IN ('fall', 'smoke')"
            )
        ).all()
    folded = sum(int(row[4]) for row in alerts)
    # An event stored twice under one id, or folded into its alert twice, shows as surplus.
    result.duplicated = (len(stored) - len(set(stored))) + max(0, folded - len(stored))
    keys = {(row.station_id, row.kind, row.zone) for row in alerts}
    # Per node: a fall alert in each of its two zones, and one smoke alert for its station
    # (fire and smoke belong to the whole station, whichever zone saw them).
    if len(keys) != len(alerts) or len(alerts) != 3 * len(s.nodes):
        result.violations.append(f"alerts per key wrong: {len(alerts)} for {len(keys)} keys")
    if any(row.status != "open" for row in alerts):
        result.violations.append("an alert nobody answered is not open")
    result.pages_delivered = sum(1 for row in pages if row.state == "delivered")
    result.pages_failed_over = sum(1 for row in pages if row.position > 0)
    return result
