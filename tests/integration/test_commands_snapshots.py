"""Remote unlock to a node, snapshots in, retention, and the false-alarm dataset export."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session

from station.contracts import (
    Command,
    CommandOutcome,
    CommandResult,
    EventKind,
    NodeTopics,
    SeenBox,
    TopicKind,
    Visit,
    VisitMethod,
    decode,
    utcnow,
)
from station.duty.alerting.snapshots import SnapshotStore
from station.duty.people.models import VisitRecord
from station.duty.reports.retention import RetentionPolicy, run_retention
from station.duty.reports.training_set import LabelSpace, export_training_set
from station.duty.services import services_of
from tests.duty.messages import event, inbound
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until

pytestmark = pytest.mark.integration

TOPICS = NodeTopics("node-1")


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str, tmp_path: Path) -> Iterator[DutyServer]:
    """cloud-duty keeping snapshots in the test's folder (test_replicas covers the database)."""
    server = DutyServer(
        pg_url, broker.port, snapshot_dir=str(tmp_path / "snaps"), snapshot_storage="folder"
    ).start()
    server.register("st-1", "node-1")
    yield server
    server.stop()


@pytest.fixture
def node(broker: MosquittoBroker) -> Iterator[tuple[mqtt.Client, list[mqtt.MQTTMessage]]]:
    """A raw client standing in for the node: it sees its cmd topic and can publish."""
    got: list[mqtt.MQTTMessage] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fake-node-1")
    client.on_message = lambda _c, _u, m: got.append(m)
    client.connect("127.0.0.1", broker.port)
    client.subscribe(TOPICS.topic(TopicKind.CMD), qos=1)
    client.loop_start()
    time.sleep(0.3)
    yield client, got
    client.loop_stop()


def _jpeg(seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def test_remote_unlock_reaches_the_node_with_expiry_and_its_result_is_kept(
    duty: DutyServer, node: tuple[mqtt.Client, list[mqtt.MQTTMessage]]
) -> None:
    client, got = node
    with duty.client() as http:
        short = http.post("/api/v1/nodes/node-1/commands", json={"name": "unlock", "reason": "x"})
        assert short.status_code == 422  # a reason is required for the record
        sent = http.post(
            "/api/v1/nodes/node-1/commands",
            json={"name": "unlock", "reason": "worker trapped inside", "ttl_s": 30},
        )
        assert sent.status_code == 202
        wait_until(lambda: got, 10, "the command on the node's topic")
        (message,) = got
        assert (message.qos, message.retain) == (1, False)
        command = decode(Command, bytes(message.payload))
        assert command.cmd_id == sent.json()["id"]
        assert command.expires_at - command.issued_at == timedelta(seconds=30)
        result = CommandResult(
            cmd_id=command.cmd_id, node_id="node-1", outcome=CommandOutcome.DONE, ts=utcnow()
        )
        client.publish(TOPICS.topic(TopicKind.CMD_RESULT), result.to_payload(), qos=1)
        wait_until(
            lambda: http.get("/api/v1/nodes/node-1/commands").json()[0]["outcome"] == "done",
            10,
            "the node's answer",
        )
        audit = http.get("/api/v1/audit", params={"actor": "service-token"}).json()["items"]
    assert any(
        a["action"] == "command unlock" and a["detail"] == "worker trapped inside" for a in audit
    )


def test_snapshots_are_stored_served_and_bad_ones_refused(
    duty: DutyServer, node: tuple[mqtt.Client, list[mqtt.MQTTMessage]], tmp_path: Path
) -> None:
    client, _ = node
    fall = event("ev-snap", utcnow(), kind=EventKind.FALL)
    image = _jpeg(1)
    client.publish(TOPICS.snapshot("ev-snap"), image, qos=1)
    client.publish(TOPICS.snapshot("ev-bad"), b"GIF89a not a jpeg", qos=1)
    client.publish(TOPICS.snapshot("ev-huge"), b"\xff\xd8\xff" + b"0" * 600_000, qos=1)
    client.publish(TOPICS.topic(TopicKind.EVENT), fall.to_payload(), qos=1)
    with duty.client() as http:
        wait_until(
            lambda: http.get("/api/v1/events/ev-snap/snapshot").status_code == 200, 10, "snap"
        )
        served = http.get("/api/v1/events/ev-snap/snapshot")
        assert (served.headers["content-type"], served.content) == ("image/jpeg", image)
    stats = services_of(duty.app).pipeline.stats
    wait_until(lambda: stats.rejected >= 2, 10, "the bad snapshots refused")
    stored = sorted(p.name for p in (tmp_path / "snaps").rglob("*.jpg"))
    assert stored == ["ev-snap.jpg"]


def test_retention_and_false_alarm_export(duty: DutyServer, tmp_path: Path) -> None:
    engine = services_of(duty.app).engine
    store = services_of(duty.app).snapshots
    assert isinstance(store, SnapshotStore)  # the fixture keeps the folder storage
    now = utcnow()
    pipeline = services_of(duty.app).pipeline

    fire = SeenBox(class_name="fire", role="fire", score=0.6, x1=0.1, y1=0.1, x2=0.3, y2=0.4)
    pipeline.process([inbound(event("ev-old", now, kind=EventKind.FIRE, boxes=[fire]))])
    pipeline.process([inbound(event("ev-real", now, kind=EventKind.SMOKE))])
    store.save("node-1", "ev-old", _jpeg(2))
    store.save("node-1", "ev-real", _jpeg(3))
    with duty.client() as http:
        alerts = {a["kind"]: a["id"] for a in http.get("/api/v1/alerts").json()["items"]}
        http.post(f"/api/v1/alerts/{alerts['fire']}/verdict", json={"verdict": "false_alarm"})
        http.post(f"/api/v1/alerts/{alerts['smoke']}/verdict", json={"verdict": "confirmed"})
    space = LabelSpace(["smoke", "fire"], {"smoke": "smoke", "fire": "fire"})
    summary = export_training_set(engine, store, tmp_path / "dataset", space, actor="cli:tester")
    with duty.client() as http:
        exports = http.get("/api/v1/audit", params={"actor": "cli:tester"}).json()["items"]
    assert [(a["action"], a["detail"]) for a in exports] == [
        ("export training set", "1 snapshot(s)")
    ]
    # The smoke alert's event carried no boxes: skipped, not written with an empty label.
    assert (summary.images, summary.without_boxes) == ({"train": 1, "val": 0}, 1)
    dataset = tmp_path / "dataset"
    assert (dataset / "images" / "train" / "ev-old.jpg").read_bytes() == _jpeg(2)
    # A false fire alarm: the fire box was wrong, so the image teaches "no fire here".
    assert (dataset / "labels" / "train" / "ev-old.txt").read_text() == ""
    names = yaml.safe_load((dataset / "data.yaml").read_text())["names"]
    assert names == {0: "smoke", 1: "fire"}

    visit = Visit(
        visit_id="v-1",
        node_id="node-1",
        member_id="m-77",
        method=VisitMethod.QR,
        entered_at=now - timedelta(days=100),
    )
    pipeline.process(
        [type(inbound(event("x", now)))(TOPICS.topic(TopicKind.VISIT), visit.to_payload())]
    )
    old_snapshot = store.path("node-1", "ev-old")
    past = time.time() - 40 * 86400
    os.utime(old_snapshot, (past, past))
    policy = RetentionPolicy(snapshot_days=30, visit_days=90, record_days=180, audit_days=1000)
    report = run_retention(engine, store, now, policy)
    assert (report.snapshots, report.visits) == (1, 1)
    assert not old_snapshot.exists()
    assert store.path("node-1", "ev-real").exists()
    with Session(engine) as session:
        record = session.get(VisitRecord, "v-1")
        assert record is not None
        assert record.member_id is None
        assert record.method == "qr"  # what the statistics need stays
