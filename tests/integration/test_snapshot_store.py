"""Two cloud-duty replicas sharing one S3-compatible snapshot store (moto's HTTP server)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest

from station.contracts import NodeTopics, TopicKind, utcnow
from station.duty.alerting.snapshot_s3 import S3SnapshotStorage, make_s3_client
from station.duty.alerting.snapshots import parse_store_url
from station.duty.fleet.ingest import Inbound
from station.duty.reports.retention import RetentionPolicy, run_retention
from station.duty.services import services_of
from tests.duty.conftest import ManualClock
from tests.duty.messages import event
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer
from tests.support.s3_server import BUCKET, REGION, S3Server

pytestmark = pytest.mark.integration

NODE = NodeTopics("node-s")


def _jpeg(mark: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes([mark]) * 64


def _ingest(server: DutyServer, event_id: str, snapshot: bytes | None) -> None:
    """One replica takes in a node's event, with its snapshot when one is given."""
    batch = [
        Inbound(NODE.topic(TopicKind.EVENT), event(event_id, utcnow(), node="node-s").to_payload())
    ]
    if snapshot is not None:
        batch.append(Inbound(NODE.snapshot(event_id), snapshot))
    services_of(server.app).pipeline.process(batch)


def _tick_a_second() -> None:
    """The store stamps objects to the second: wait for the next one."""
    stamped = utcnow().replace(microsecond=0)
    while utcnow().replace(microsecond=0) <= stamped:
        time.sleep(0.05)


def test_replicas_share_snapshots_in_the_object_store_and_retention_expires_them(
    broker: MosquittoBroker, pg_url: str, s3: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    first = DutyServer(pg_url, broker.port, mqtt_client_id="duty-o1", **s3.settings()).start()
    second = DutyServer(pg_url, broker.port, mqtt_client_id="duty-o2", **s3.settings()).start()
    try:
        assert isinstance(services_of(second.app).snapshots, S3SnapshotStorage)
        first.register("st-s", "node-s")
        _ingest(first, "ev-old", _jpeg(1))
        _tick_a_second()
        _ingest(first, "ev-new", _jpeg(2))
        _ingest(first, "ev-none", None)
        with second.client() as http:
            served = http.get("/api/v1/events/ev-old/snapshot")
            assert (served.status_code, served.content) == (200, _jpeg(1))
            assert served.headers["content-type"] == "image/jpeg"
            missing = http.get("/api/v1/events/ev-none/snapshot")
            assert (missing.status_code, missing.json()) == (
                404,
                {"detail": "event ev-none has no snapshot"},
            )

        # Retention as the job runs it, thirty days after ev-new was stored: ev-old is past.
        client = make_s3_client(s3.endpoint_url, REGION, s3.access_key_id, s3.secret_access_key)
        clock = ManualClock()
        store = S3SnapshotStorage(
            client, parse_store_url(s3.settings()["snapshot_store_url"]), clock
        )
        newest = client.head_object(Bucket=BUCKET, Key=store.location.key("node-s", "ev-new"))
        clock.current = newest["LastModified"] + timedelta(days=30)
        policy = RetentionPolicy(snapshot_days=30, visit_days=90, record_days=180, audit_days=1000)
        assert (
            run_retention(services_of(first.app).engine, store, clock.now(), policy).snapshots == 1
        )
        with second.client() as http:
            assert http.get("/api/v1/events/ev-old/snapshot").status_code == 404
            assert http.get("/api/v1/events/ev-new/snapshot").content == _jpeg(2)
    finally:
        first.stop()
        second.stop()
    assert f"snapshots go to s3://{BUCKET}/snaps/" in caplog.text
    assert s3.secret_access_key not in caplog.text


def test_a_replica_with_a_wrong_secret_answers_503_and_still_records_the_event(
    broker: MosquittoBroker, pg_url: str, s3: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    good = DutyServer(pg_url, broker.port, mqtt_client_id="duty-g", **s3.settings()).start()
    wrong = s3.settings(snapshot_store_secret_access_key="not-the-secret-key")
    bad = DutyServer(pg_url, broker.port, mqtt_client_id="duty-b", **wrong).start()
    try:
        good.register("st-s", "node-s")
        _ingest(good, "ev-1", _jpeg(1))
        with bad.client() as http:
            refused = http.get("/api/v1/events/ev-1/snapshot")
        assert refused.status_code == 503
        assert refused.json() == {
            "detail": "snapshot store refused to read a snapshot: SignatureDoesNotMatch"
        }
        # The store refusing costs the picture, never the event and its alert.
        _ingest(bad, "ev-2", _jpeg(2))
        assert services_of(bad.app).pipeline.stats.refused == {"snapshot_store": 1}
        with bad.client() as http:
            recorded = http.get("/api/v1/events", params={"node_id": "node-s"}).json()
            alerts = http.get("/api/v1/alerts").json()["items"]
        assert {e["id"] for e in recorded["items"]} == {"ev-1", "ev-2"}
        assert alerts
    finally:
        good.stop()
        bad.stop()
    # The logs say what failed (so the check below has something to look at), never a secret.
    assert "not stored: snapshot store refused to store a snapshot" in caplog.text
    assert "not-the-secret-key" not in caplog.text
    assert s3.secret_access_key not in caplog.text
