"""The ingest pipeline against SQLite and PostgreSQL: idempotency, dedup, refusals, liveness."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.contracts import (
    DeviceSnapshot,
    EventKind,
    EventPhase,
    NodeState,
    NodeStatus,
    NodeTopics,
    StationState,
    TopicKind,
)
from station.duty.alerting.alert_book import AlertBook
from station.duty.alerting.alerts import STATION_OFFLINE
from station.duty.alerting.models import Alert, EventRecord
from station.duty.fleet.ingest import Inbound, IngestPipeline
from station.duty.fleet.liveness import mark_silent_nodes_offline
from station.duty.fleet.models import Node
from station.duty.fleet.models import NodeState as Stored
from tests.duty.conftest import ManualClock
from tests.duty.messages import event, health, inbound


def _alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.exec(select(Alert).order_by(col(Alert.id))).all())


def test_event_replayed_makes_one_event_and_one_alert(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    msg = inbound(event("ev-1", clock.now()))
    pipeline.process([msg, msg])
    pipeline.process([msg])
    with Session(engine) as session:
        assert len(session.exec(select(EventRecord)).all()) == 1
    alerts = _alerts(engine)
    assert len(alerts) == 1
    assert alerts[0].count == 1
    assert alerts[0].severity == "critical"


def test_repeats_fold_into_one_alert_per_station_kind_zone(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    t = clock.now()
    pipeline.process([inbound(event("ev-1", t)), inbound(event("ev-2", t + timedelta(seconds=5)))])
    pipeline.process([inbound(event("ev-3", t, zone="toilet"))])
    pipeline.process([inbound(event("ev-4", t, kind=EventKind.FIRE))])
    alerts = _alerts(engine)
    assert [(a.kind, a.zone, a.count) for a in alerts] == [
        ("fall", "room", 2),
        ("fall", "toilet", 1),
        ("fire", "", 1),  # fire is the station's, whichever camera or rule saw it
    ]


def test_end_clears_alert_but_keeps_it_unacknowledged(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    t = clock.now()
    pipeline.process([inbound(event("ev-1", t))])
    pipeline.process([inbound(event("ev-1", t, EventPhase.UPDATE, seq=1))])
    end = inbound(event("ev-1", t + timedelta(seconds=9), EventPhase.END, seq=2))
    pipeline.process([end, end])
    (alert,) = _alerts(engine)
    assert not alert.active
    assert alert.status == "open"
    assert alert.cleared_at == t + timedelta(seconds=9)


def test_refused_messages_are_logged_and_the_rest_is_stored(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    good = inbound(event("ev-ok", clock.now()))
    topic = NodeTopics("node-1").topic(TopicKind.EVENT)
    stranger = inbound(event("ev-x", clock.now(), node="node-unknown"))
    batch = [
        Inbound(topic, b"{not json"),
        Inbound(topic, b'{"schema": 2, "event_id": "a"}'),
        Inbound(topic, b"x" * 70_000),
        Inbound(topic, good.payload.replace(b'"phase":"new"', b'"phase":"new","extra":1')),
        Inbound(NodeTopics("node-2").topic(TopicKind.EVENT), good.payload),
        stranger,
        good,
    ]
    with caplog.at_level(logging.WARNING):
        pipeline.process(batch)
    assert pipeline.stats.rejected == 6
    assert pipeline.stats.persisted == 1
    text = caplog.text
    for reason in (
        "not JSON",
        "unknown schema version 2",
        "exceeds",
        "Extra inputs",
        "does not match",
        "unknown node node-unknown",
    ):
        assert reason in text
    with Session(engine) as session:
        assert [e.id for e in session.exec(select(EventRecord)).all()] == ["ev-ok"]


def test_heartbeats_keep_node_online_and_silence_takes_it_offline(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    pipeline.process([inbound(health(clock.now())), inbound(health(clock.now()))])
    with Session(engine) as session:
        node = session.get(Node, "node-1")
        assert node is not None
        assert node.state == Stored.ONLINE
        assert node.health is not None
        assert node.health.outbox_depth == 0
    clock.advance(89)
    with Session(engine) as session:
        assert (
            mark_silent_nodes_offline(
                session, AlertBook(session), clock.now(), timedelta(seconds=90)
            )
            == []
        )
    clock.advance(2)
    with Session(engine) as session:
        assert mark_silent_nodes_offline(
            session, AlertBook(session), clock.now(), timedelta(seconds=90)
        ) == ["node-1"]
        session.commit()
    (alert,) = _alerts(engine)
    assert (alert.kind, alert.zone, alert.active) == (STATION_OFFLINE, "node-1", True)
    pipeline.process([inbound(health(clock.now()))])
    (alert,) = _alerts(engine)
    assert not alert.active


def test_last_will_raises_station_offline_alert(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    topic = NodeTopics("node-1").topic(TopicKind.STATUS)
    birth = NodeStatus(node_id="node-1", state=NodeState.ONLINE, reason="birth", ts=clock.now())
    will = NodeStatus(node_id="node-1", state=NodeState.OFFLINE, reason="will")
    pipeline.process([Inbound(topic, birth.to_payload())])
    pipeline.process([Inbound(topic, will.to_payload()), Inbound(topic, will.to_payload())])
    (alert,) = _alerts(engine)
    assert (alert.kind, alert.severity, alert.count) == (STATION_OFFLINE, "major", 1)
    with Session(engine) as session:
        node = session.get(Node, "node-1")
        assert node is not None
        assert node.state == Stored.OFFLINE


def test_device_states_are_kept_per_node(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    topic = NodeTopics("node-1").topic(TopicKind.STATE)
    door = DeviceSnapshot(device_id="door", available="online", values={"lock": "LOCKED"})
    older = StationState(node_id="node-1", ts=clock.now(), devices=[door])
    smoke = DeviceSnapshot(device_id="env", available="online", values={"smoke": True})
    newer = StationState(node_id="node-1", ts=clock.now(), devices=[door, smoke])
    pipeline.process([Inbound(topic, older.to_payload()), Inbound(topic, newer.to_payload())])
    bad = older.to_payload().replace(b'"online"', b'"sideways"')
    pipeline.process([Inbound(topic, bad)])
    with Session(engine) as session:
        node = session.get(Node, "node-1")
        assert node is not None
        assert node.devices is not None
        assert [d.device_id for d in node.devices.devices] == ["door", "env"]
        assert node.devices.devices[1].values == {"smoke": True}
    assert pipeline.stats.rejected == 1
