"""WeCom and DingTalk notifiers against a real local HTTP server, with deliveries on PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from devkit.localbroker import free_port
from station.duty.alerting.deliveries import DeliveryService, RetryPolicy
from station.duty.alerting.models import Alert, Delivery
from station.duty.alerting.notifiers import (
    DingTalkWebhookNotifier,
    Notice,
    Notifier,
    WeComWebhookNotifier,
)
from station.duty.clock import SystemClock
from station.duty.db import make_engine, migrate
from station.duty.fleet.ingest import IngestPipeline
from station.duty.fleet.registry import NodeDirectory
from tests.duty.conftest import register
from tests.duty.messages import event, inbound

pytestmark = pytest.mark.integration

ROBOT_KEY = "robot-key-do-not-log-0123"
DING_SECRET = "SECdingtalk-secret-0123456789"


@dataclass
class RobotEndpoint:
    """What the fake robot answers, in order (the last answer repeats), and what it got."""

    answers: list[str] = field(default_factory=lambda: ["ok"])
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def next_answer(self) -> str:
        """Pop the next scripted answer."""
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _handler(endpoint: RobotEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            parts = urlsplit(self.path)
            endpoint.requests.append(
                {
                    "path": parts.path,
                    "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                    "content_type": self.headers.get("Content-Type"),
                    "body": json.loads(self.rfile.read(length)),
                }
            )
            answer = endpoint.next_answer()
            if answer == "slow":
                endpoint.release.wait(10)  # far past the notifier's timeout
            status, reply = {
                "ok": (200, {"errcode": 0, "errmsg": "ok"}),
                "slow": (200, {"errcode": 0, "errmsg": "ok"}),
                "busy": (503, {"errcode": -1, "errmsg": "system busy"}),
                "refused": (200, {"errcode": 310000, "errmsg": "sign not match"}),
            }[answer]
            data = json.dumps(reply).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def robot() -> Iterator[tuple[str, RobotEndpoint]]:
    """A real HTTP server on a free port standing in for the WeCom / DingTalk robot API."""
    endpoint = RobotEndpoint()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _handler(endpoint))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", endpoint
    endpoint.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """A migrated PostgreSQL database with st-1 / node-1 registered."""
    engine = make_engine(pg_url)
    migrate(engine)
    register(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def alert_id(pg_engine: Engine) -> int:
    """An open alert, raised through the ingest pipeline."""
    pipeline = IngestPipeline(pg_engine, SystemClock(), NodeDirectory(0))
    pipeline.process([inbound(event("ev-http-1", SystemClock().now()))])
    with Session(pg_engine) as session:
        found = session.exec(select(Alert.id)).one()
    assert found is not None
    return found


def _notice(alert_id: int, recipient: str = "ops-group") -> Notice:
    return Notice(
        alert_id=alert_id,
        station_id="st-1",
        kind="fall",
        severity="critical",
        title="Worker down",
        body="Fall in the rest room.",
        console_url="http://duty.local/#alert-1",
        recipient=recipient,
        escalation_level=0,
    )


def _attempts(engine: Engine, alert_id: int) -> list[tuple[str, int, bool, int | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Delivery).where(Delivery.alert_id == alert_id).order_by(col(Delivery.id))
        ).all()
        return [(r.channel, r.attempt, r.ok, r.status_code) for r in rows]


def test_wecom_robot_receives_its_markdown_shape(robot: tuple[str, RobotEndpoint]) -> None:
    url, endpoint = robot
    result = WeComWebhookNotifier(f"{url}/cgi-bin/webhook/send?key={ROBOT_KEY}").send(_notice(7))
    assert (result.ok, result.status_code) == (True, 200)
    (got,) = endpoint.requests
    assert got["path"] == "/cgi-bin/webhook/send"
    assert got["query"] == {"key": ROBOT_KEY}
    assert got["content_type"] == "application/json"
    assert set(got["body"]) == {"msgtype", "markdown"}
    assert got["body"]["msgtype"] == "markdown"
    assert set(got["body"]["markdown"]) == {"content"}
    assert "Worker down" in got["body"]["markdown"]["content"]
    assert "http://duty.local/#alert-1" in got["body"]["markdown"]["content"]


def test_dingtalk_robot_receives_markdown_and_a_valid_signature(
    robot: tuple[str, RobotEndpoint],
) -> None:
    url, endpoint = robot
    notifier = DingTalkWebhookNotifier(
        f"{url}/robot/send?access_token=tok-1", secret=SecretStr(DING_SECRET)
    )
    before_ms = int(time.time() * 1000)
    assert notifier.send(_notice(7)).ok
    (got,) = endpoint.requests
    assert got["path"] == "/robot/send"
    assert got["body"]["msgtype"] == "markdown"
    assert got["body"]["markdown"]["title"] == "Worker down"
    assert "Fall in the rest room." in got["body"]["markdown"]["text"]
    query = got["query"]
    assert query["access_token"] == "tok-1"
    timestamp = int(query["timestamp"])
    assert timestamp >= before_ms
    # Verify as DingTalk does: recompute the HMAC from the timestamp it received.
    digest = hmac.new(
        DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256
    ).digest()
    assert query["sign"] == base64.b64encode(digest).decode()


def test_dingtalk_without_secret_sends_no_signature(robot: tuple[str, RobotEndpoint]) -> None:
    url, endpoint = robot
    assert DingTalkWebhookNotifier(f"{url}/robot/send?access_token=t").send(_notice(7)).ok
    assert endpoint.requests[0]["query"] == {"access_token": "t"}


def test_server_that_fails_twice_then_succeeds_gives_three_recorded_attempts(
    robot: tuple[str, RobotEndpoint], pg_engine: Engine, alert_id: int
) -> None:
    url, endpoint = robot
    endpoint.answers = ["busy", "refused", "ok"]
    service = DeliveryService(
        pg_engine,
        {"wecom": WeComWebhookNotifier(f"{url}/send?key={ROBOT_KEY}")},
        SystemClock(),
        time.sleep,
        RetryPolicy(attempts=5, base_delay_s=0.05),
    )
    report = service.deliver("wecom", _notice(alert_id))
    assert (report.ok, report.attempts) == (True, 3)
    assert len(endpoint.requests) == 3
    assert _attempts(pg_engine, alert_id) == [
        ("wecom", 1, False, 503),
        ("wecom", 2, False, 200),
        ("wecom", 3, True, 200),
    ]
    with Session(pg_engine) as session:
        details = session.exec(select(Delivery.detail).order_by(col(Delivery.id))).all()
    assert details == ["HTTP 503", "errcode 310000: sign not match", "accepted"]


def test_always_failing_server_records_every_attempt_and_never_the_key(
    robot: tuple[str, RobotEndpoint],
    pg_engine: Engine,
    alert_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, endpoint = robot
    endpoint.answers = ["busy"]
    notifier = DingTalkWebhookNotifier(
        f"{url}/robot/send?access_token={ROBOT_KEY}", secret=SecretStr(DING_SECRET)
    )
    policy = RetryPolicy(attempts=4, base_delay_s=0.01)
    service = DeliveryService(pg_engine, {"dingtalk": notifier}, SystemClock(), time.sleep, policy)
    caplog.set_level("DEBUG")
    report = service.deliver("dingtalk", _notice(alert_id))
    assert (report.ok, report.attempts, report.last.status_code) == (False, 4, 503)
    assert [a[1:3] for a in _attempts(pg_engine, alert_id)] == [
        (1, False),
        (2, False),
        (3, False),
        (4, False),
    ]
    assert ROBOT_KEY not in caplog.text
    assert DING_SECRET not in caplog.text


def test_timeouts_and_refused_connections_are_failed_attempts(
    robot: tuple[str, RobotEndpoint], pg_engine: Engine, alert_id: int
) -> None:
    url, endpoint = robot
    endpoint.answers = ["slow", "ok"]
    notifiers: dict[str, Notifier] = {
        "wecom": WeComWebhookNotifier(f"{url}/send?key=k", timeout_s=0.3),
        "dingtalk": DingTalkWebhookNotifier(f"http://127.0.0.1:{free_port()}/robot/send"),
    }
    policy = RetryPolicy(attempts=2, base_delay_s=0)
    service = DeliveryService(pg_engine, notifiers, SystemClock(), time.sleep, policy)
    slow_then_ok = service.deliver("wecom", _notice(alert_id))
    endpoint.release.set()
    nobody_listens = service.deliver("dingtalk", _notice(alert_id))
    assert (slow_then_ok.ok, slow_then_ok.attempts) == (True, 2)
    assert (nobody_listens.ok, nobody_listens.attempts) == (False, 2)
    assert nobody_listens.last.detail == "transport error (ConnectError)"
    assert _attempts(pg_engine, alert_id) == [
        ("wecom", 1, False, None),
        ("wecom", 2, True, 200),
        ("dingtalk", 1, False, None),
        ("dingtalk", 2, False, None),
    ]
    with Session(pg_engine) as session:
        first = session.exec(select(Delivery).order_by(col(Delivery.id))).first()
    assert first is not None
    assert first.detail.startswith("timeout (")
