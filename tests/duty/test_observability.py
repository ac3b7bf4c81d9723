"""cloud-duty watched from outside: `/metrics` for the scraper, `/healthz` naming the failing
part, and the dead-man's switch paging a real robot endpoint when ingest goes silent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devkit.localbroker import free_port
from station.contracts import NodeTopics, TopicKind
from station.duty.api.health import health_checks
from station.duty.app import create_app
from station.duty.db import make_engine
from station.duty.fleet.deadman import DeadMansSwitch
from station.duty.fleet.ingest import Inbound
from station.duty.jobs import check_ingest_silence
from station.duty.settings import DutySettings
from tests.duty.conftest import ManualClock, duty_services, register
from tests.duty.messages import event, health, inbound
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import wait_until

TOKEN = "observe-service-token-0123456789"
SCRAPE = "observe-scrape-token-0123456789"


def _settings(db_url: str, tmp_path: Path, **overrides: Any) -> DutySettings:
    base: dict[str, Any] = {
        "database_url": db_url,
        "api_token": TOKEN,
        "metrics_token": SCRAPE,
        "key_file": str(tmp_path / "keys.json"),
        "snapshot_dir": str(tmp_path / "snaps"),
        "start_ingest": False,
        "start_scheduler": False,
    }
    return DutySettings(**{**base, **overrides})


def _sample(text: str, line_start: str) -> float:
    """The value of the first sample line starting with `line_start`."""
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {line_start!r} in the metrics")


def test_metrics_count_ingest_refusals_and_open_alerts(
    db_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    with TestClient(create_app(_settings(db_url, tmp_path), clock)) as api:
        services = duty_services(api)
        register(services.engine)
        beat_topic = NodeTopics("node-1").topic(TopicKind.HEALTH)
        services.pipeline.process(
            [
                inbound(event("ev-1", clock.now())),
                inbound(health(clock.now())),
                Inbound(beat_topic, b"not json"),
                inbound(health(clock.now(), node="node-unknown")),
            ]
        )
        assert api.get("/metrics").status_code == 401
        service = api.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        scraped = api.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE}"})
    assert service.status_code == scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert _sample(text, "uws_duty_ingest_received_total") == 4
    assert _sample(text, "uws_duty_ingest_persisted_total") == 2
    assert _sample(text, 'uws_duty_ingest_refused_total{reason="invalid"}') == 1
    assert _sample(text, 'uws_duty_ingest_refused_total{reason="unknown_node"}') == 1
    assert _sample(text, 'uws_duty_open_alerts{kind="fall",severity="critical"}') == 1
    assert _sample(text, "uws_duty_ingest_batch_seconds_count") == 1
    assert _sample(text, "uws_duty_ingest_lag_seconds_count") == 1
    assert _sample(text, "uws_duty_ingest_batches_total") == 1
    assert _sample(text, "uws_duty_sse_clients") == 0
    assert _sample(text, "uws_duty_broker_connected") == 0


def test_healthz_names_the_failing_part(tmp_path: Path, clock: ManualClock) -> None:
    broker = MosquittoBroker(tmp_path / "broker")
    broker.start()
    settings = _settings(
        f"sqlite:///{tmp_path / 'duty.sqlite'}",
        tmp_path,
        mqtt_port=broker.port,
        mqtt_client_id="observe-healthz",
        start_ingest=True,
        start_scheduler=True,
    )
    try:
        with TestClient(create_app(settings, clock)) as api:
            services = duty_services(api)
            ingest = services.ingest
            assert ingest is not None
            wait_until(ingest.connected.is_set, 20, "ingest connect")
            healthy = api.get("/healthz")
            assert healthy.status_code == 200, healthy.json()
            assert healthy.json()["checks"] == {"database": True, "broker": True, "scheduler": True}
            broker.stop()
            wait_until(lambda: not ingest.connected.is_set(), 20, "ingest disconnect")
            no_broker = api.get("/healthz")
            assert no_broker.status_code == 503
            assert no_broker.json()["failing"] == ["broker"]
            assert services.scheduler is not None
            services.scheduler.pause()
            assert api.get("/healthz").json()["failing"] == ["broker", "scheduler"]
            services.scheduler.resume()
            away = make_engine("postgresql+psycopg://uws@127.0.0.1:1/nothing?connect_timeout=2")
            assert health_checks(replace(services, engine=away))["database"] is False
            away.dispose()
    finally:
        broker.stop()


class _Robot:
    """A real HTTP endpoint standing in for a WeCom robot; keeps what it was sent."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                robot.posts.append(json.loads(self.rfile.read(length)))
                data = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/webhook/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def robot() -> Iterator[_Robot]:
    endpoint = _Robot()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def test_dead_mans_switch_pages_once_per_silence(
    tmp_path: Path, clock: ManualClock, robot: _Robot
) -> None:
    settings = _settings(
        f"sqlite:///{tmp_path / 'duty.sqlite'}",
        tmp_path,
        mqtt_port=free_port(),  # nobody listens: this replica's ingest hears nothing
        start_ingest=True,
        start_scheduler=True,
        deadman_silence_min=10,
        notifiers={"ops": {"kind": "wecom", "url": robot.url}},
    )
    with TestClient(create_app(settings, clock)) as api:
        services = duty_services(api)
        assert services.scheduler is not None
        job = services.scheduler.get_job("dead-mans-switch")
        assert job is not None
        job_services, switch = job.args
        assert isinstance(switch, DeadMansSwitch)
        clock.advance(11 * 60)
        assert not check_ingest_silence(job_services, switch), "no node registered: no page"
        register(services.engine)
        clock.advance(60)
        assert check_ingest_silence(job_services, switch)
        clock.advance(60)
        assert not check_ingest_silence(job_services, switch), "one page per silence"
        services.pipeline.process([inbound(health(clock.now()))])
        clock.advance(9 * 60)
        assert not check_ingest_silence(job_services, switch), "ingest resumed"
        clock.advance(2 * 60)
        assert check_ingest_silence(job_services, switch), "a new silence pages again"
        metrics = api.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE}"}).text
    assert len(robot.posts) == 2
    content = robot.posts[0]["markdown"]["content"]
    assert "cloud-duty 已 12 分钟未收到任何站点消息" in content
    assert "已登记 1 个节点" in content
    assert _sample(metrics, "uws_duty_deadman_pages_total") == 2
