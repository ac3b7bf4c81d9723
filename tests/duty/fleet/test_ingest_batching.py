"""A batch costs a few statements however many alerts it opens, reopens or clears: an alert
storm, or a fleet coming back online, must not cost a database round trip per message.
Statements are counted on PostgreSQL, where a fleet's cloud-duty runs: on SQLite SQLAlchemy
inserts rows that return their ids one statement each (SQLite does not keep the order of a
multi-row RETURNING). The batch's behaviour is checked on both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from station.contracts import EventPhase
from station.duty.alerting.alert_book import AlertBook
from station.duty.alerting.alerts import STATION_OFFLINE, resolve
from station.duty.alerting.models import Alert, FeedEntry
from station.duty.db import make_engine, migrate
from station.duty.fleet.ingest import IngestPipeline
from station.duty.fleet.liveness import mark_silent_nodes_offline
from station.duty.fleet.registry import NodeDirectory
from tests.duty.conftest import ManualClock, register
from tests.duty.messages import event as hazard
from tests.duty.messages import health, inbound


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """The statements sent to the database within the block (an executemany counts once)."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """A migrated PostgreSQL database with station st-1 and node node-1."""
    eng = make_engine(pg_url)
    migrate(eng)
    register(eng)
    yield eng
    eng.dispose()


def _stations(engine: Engine, count: int, first: int = 0) -> list[str]:
    nodes = [f"node-b{i:03d}" for i in range(first, first + count)]
    for node in nodes:
        register(engine, f"st-{node}", node)
    return nodes


def _alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.exec(select(Alert).order_by(col(Alert.id))).all())


def test_new_alerts_of_a_batch_cost_the_same_statements_for_5_as_for_60(
    pg_engine: Engine, clock: ManualClock
) -> None:
    engine = pg_engine
    pipeline = IngestPipeline(engine, clock, NodeDirectory(0))
    costs = []
    for first, count in ((0, 5), (5, 60)):
        nodes = _stations(engine, count, first)
        batch = [inbound(health(clock.now(), n)) for n in nodes]
        batch += [inbound(hazard(f"ev-{n}", clock.now(), node=n)) for n in nodes]
        with counted(engine) as sent:
            pipeline.process(batch)
        costs.append(len(sent))
    assert costs[0] == costs[1]
    alerts = _alerts(engine)
    assert len(alerts) == 65
    assert {(a.count, a.active_events, a.active, a.kind) for a in alerts} == {(1, 1, True, "fall")}
    assert all(a.last_event_id == f"ev-{a.station_id.removeprefix('st-')}" for a in alerts)
    with Session(engine) as session:
        changes = session.exec(select(FeedEntry.change)).all()
    assert changes == ["opened"] * 65  # once each, though its first event also folded in


def test_a_new_event_and_its_end_in_one_batch_clear_the_alert_they_open(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    t = clock.now()
    ended = hazard("ev-1", t + timedelta(seconds=3), phase=EventPhase.END, seq=1)
    pipeline.process([inbound(hazard("ev-1", t)), inbound(ended)])
    (alert,) = _alerts(engine)
    assert (alert.count, alert.active_events, alert.active) == (1, 0, False)
    assert alert.cleared_at is not None


def test_a_batch_reopens_what_was_resolved_within_the_window_and_opens_anew_past_it(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    nodes = _stations(engine, 3)
    pipeline.process([inbound(hazard(f"ev-{n}-1", clock.now(), node=n)) for n in nodes])
    first = _alerts(engine)
    with Session(engine) as session:
        for alert in first[:2]:
            assert alert.id is not None
            resolve(session, alert.id, "wang", "", clock.now())
        session.commit()
    clock.advance(60)
    with Session(engine) as session:
        assert first[2].id is not None
        resolve(session, first[2].id, "wang", "", clock.now() - timedelta(minutes=30))
        session.commit()
    pipeline.process([inbound(hazard(f"ev-{n}-2", clock.now(), node=n)) for n in nodes])
    after = _alerts(engine)
    assert [(a.id, a.reopened, a.status.value, a.count) for a in after[:3]] == [
        (first[0].id, 1, "open", 2),
        (first[1].id, 1, "open", 2),
        (first[2].id, 0, "resolved", 1),  # resolved 30 min back: past the window
    ]
    assert [(a.station_id, a.count, a.reopened) for a in after[3:]] == [(first[2].station_id, 1, 0)]


def test_a_fleet_going_silent_and_coming_back_costs_the_same_statements_for_4_as_40(
    pg_engine: Engine, clock: ManualClock
) -> None:
    engine = pg_engine
    pipeline = IngestPipeline(engine, clock, NodeDirectory(0))
    costs: list[tuple[int, int]] = []
    nodes: list[str] = []
    for first, count in ((0, 4), (4, 40)):
        fresh = _stations(engine, count, first)
        pipeline.process([inbound(health(clock.now(), n)) for n in fresh])
        clock.advance(120)
        if nodes:  # the earlier ones keep beating: only the fresh ones go silent
            pipeline.process([inbound(health(clock.now(), n)) for n in nodes])
        with Session(engine) as session, counted(engine) as silent:
            offline = mark_silent_nodes_offline(
                session, AlertBook(session), clock.now(), timedelta(seconds=90)
            )
            session.commit()
        assert sorted(offline) == fresh
        with counted(engine) as back:
            pipeline.process([inbound(health(clock.now(), n)) for n in fresh])
        costs.append((len(silent), len(back)))
        nodes += fresh
    assert costs[0] == costs[1]
    alerts = [a for a in _alerts(engine) if a.kind == STATION_OFFLINE]
    assert len(alerts) == 44
    assert {(a.count, a.active, a.active_events) for a in alerts} == {(1, False, 0)}
