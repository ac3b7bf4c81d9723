"""Rosters and the escalation timeline, with an injected clock and a recording scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from station.contracts import EventKind, NodeState, NodeStatus, NodeTopics, TopicKind
from station.duty.alerting import alerts
from station.duty.alerting.escalation import (
    OVERDUE,
    STEP_LEASE,
    EscalationService,
    unescalated,
)
from station.duty.alerting.models import Alert, AlertAction, AlertPublic, PhonePage
from station.duty.alerting.roster_models import EscalationPolicy, RosterOverride, Rotation
from station.duty.alerting.rosters import coverage_gaps, on_duty, on_shift
from station.duty.fleet.ingest import Inbound, IngestPipeline
from station.duty.fleet.registry import NodeDirectory
from tests.duty.conftest import ManualClock
from tests.duty.messages import event, inbound


@dataclass
class RecordingScheduler:
    """Keeps what escalation asked to run, so the test can play time forward."""

    jobs: list[tuple[int, int, datetime]] = field(default_factory=list)

    def schedule(self, alert_id: int, step: int, run_at: datetime) -> None:
        """Record the request."""
        self.jobs.append((alert_id, step, run_at))


@dataclass
class RecordingPager:
    """Keeps every page that went out."""

    pages: list[tuple[int, tuple[str, ...], int]] = field(default_factory=list)

    def page(self, alert: AlertPublic, usernames: list[str], level: int) -> None:
        """Record the page."""
        self.pages.append((alert.id, tuple(usernames), level))


def _rotation(level: int, members: list[str], **extra: object) -> Rotation:
    fields: dict[str, object] = {
        "name": f"level {level}",
        "level": level,
        "members": members,
        "starts_on": date(2026, 11, 1),
        "timezone": "Asia/Shanghai",
        "handoff_hour": 8,
        "shift_hours": 24,
    }
    fields.update(extra)
    return Rotation.model_validate(fields)


def test_shift_follows_local_handoff_and_overrides(engine: Engine) -> None:
    rotation = _rotation(1, ["li", "wang"])
    # Shifts hand over at 08:00 Shanghai time, which is 00:00 UTC.
    assert on_shift(rotation, datetime(2026, 11, 1, 0, 0, tzinfo=UTC)) == "li"
    assert on_shift(rotation, datetime(2026, 11, 1, 23, 59, tzinfo=UTC)) == "li"
    assert on_shift(rotation, datetime(2026, 11, 2, 0, 0, tzinfo=UTC)) == "wang"
    assert on_shift(rotation, datetime(2026, 10, 31, 23, 0, tzinfo=UTC)) is None
    with Session(engine) as session:
        session.add(rotation)
        session.commit()
        at = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
        session.add(
            RosterOverride(
                rotation_id=rotation.id or 0,
                username="zhao",
                starts_at=at - timedelta(hours=1),
                ends_at=at + timedelta(hours=1),
            )
        )
        session.commit()
        assert on_duty(session, "", 1, at) == ["zhao"]
        assert on_duty(session, "", 1, at + timedelta(hours=2)) == ["wang"]


def test_coverage_gaps_names_the_uncovered_hours(engine: Engine) -> None:
    with Session(engine) as session:
        # Covered only from Nov 2, 08:00 Shanghai (Nov 2, 00:00 UTC) on.
        session.add(_rotation(1, ["li"], starts_on=date(2026, 11, 2)))
        session.commit()
        gaps = coverage_gaps(session, "", datetime(2026, 11, 1, 20, 0, tzinfo=UTC), 8)
    assert gaps == [datetime(2026, 11, 1, h, 0, tzinfo=UTC) for h in range(20, 24)]


def _setup(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(_rotation(1, ["li"]))
        session.add(_rotation(2, ["wang"]))
        steps = [{"level": 1, "wait_s": 300}, {"level": 2, "wait_s": 600}]
        session.add(EscalationPolicy(name="default", steps=steps, repeat=1))
        session.commit()


def _run_due(service: EscalationService, sched: RecordingScheduler, clock: ManualClock) -> None:
    due = [job for job in sched.jobs if job[2] <= clock.now()]
    sched.jobs = [job for job in sched.jobs if job[2] > clock.now()]
    for alert_id, step, _ in due:
        service.run_step(alert_id, step)


def test_escalation_timeline_stops_on_acknowledgement(engine: Engine, clock: ManualClock) -> None:
    _setup(engine)
    sched, pager = RecordingScheduler(), RecordingPager()
    service = EscalationService(engine, clock, sched, pager)
    pipeline = IngestPipeline(engine, clock, _directory(), on_opened=service.start)
    pipeline.process([inbound(event("ev-1", clock.now(), kind=EventKind.FALL))])
    ((alert_id, step, at),) = sched.jobs
    assert (step, at) == (0, clock.now())

    _run_due(service, sched, clock)
    assert pager.pages == [(alert_id, ("li",), 1)]
    assert sched.jobs == [(alert_id, 1, clock.now() + timedelta(seconds=300))]
    clock.advance(299)
    _run_due(service, sched, clock)
    assert len(pager.pages) == 1  # not yet
    clock.advance(1)
    _run_due(service, sched, clock)
    assert pager.pages[-1] == (alert_id, ("wang",), 2)
    service.run_step(alert_id, 1)  # a second replica picking up the same job
    assert len(pager.pages) == 2

    with Session(engine) as session:
        alerts.acknowledge(session, alert_id, "wang", "on my way", clock.now())
        session.commit()
    clock.advance(600)
    _run_due(service, sched, clock)
    assert len(pager.pages) == 2
    assert sched.jobs == []
    with Session(engine) as session:
        trail = session.exec(
            select(AlertAction.action)
            .where(AlertAction.alert_id == alert_id)
            .order_by(col(AlertAction.id))
        ).all()
    assert trail == ["opened", "escalated:1", "escalated:2", "acknowledged"]


def test_escalation_repeats_then_gives_up_and_honours_snooze(
    engine: Engine, clock: ManualClock
) -> None:
    _setup(engine)
    sched, pager = RecordingScheduler(), RecordingPager()
    service = EscalationService(engine, clock, sched, pager)
    pipeline = IngestPipeline(engine, clock, _directory(), on_opened=service.start)
    pipeline.process([inbound(event("ev-1", clock.now(), kind=EventKind.SMOKE))])
    alert_id = sched.jobs[0][0]
    _run_due(service, sched, clock)
    with Session(engine) as session:
        alerts.snooze(session, alert_id, "li", 30, "checking the camera", clock.now())
        session.commit()
    clock.advance(300)
    _run_due(service, sched, clock)
    assert len(pager.pages) == 1  # snoozed: step 1 waits for the snooze to end
    assert sched.jobs[0][2] == clock.now() - timedelta(seconds=300) + timedelta(minutes=30)
    for _ in range(10):
        clock.advance(1800)
        _run_due(service, sched, clock)
    # Two steps, repeated once: four pages, then it stops asking.
    assert [p[2] for p in pager.pages] == [1, 2, 1, 2]
    assert sched.jobs == []


def _directory() -> NodeDirectory:
    return NodeDirectory(unknown_ttl_s=0)


def test_offline_station_suppresses_sensor_alerts_but_never_hazards(
    engine: Engine, clock: ManualClock
) -> None:
    sched, pager = RecordingScheduler(), RecordingPager()
    service = EscalationService(engine, clock, sched, pager)
    pipeline = IngestPipeline(engine, clock, _directory(), on_opened=service.start)
    will = NodeStatus(node_id="node-1", state=NodeState.OFFLINE, reason="will")
    pipeline.process([Inbound(NodeTopics("node-1").topic(TopicKind.STATUS), will.to_payload())])
    pipeline.process([inbound(event("ev-heat", clock.now(), kind=EventKind.HEAT))])
    pipeline.process([inbound(event("ev-fire", clock.now(), kind=EventKind.FIRE))])
    with Session(engine) as session:
        rows = session.exec(select(Alert).order_by(col(Alert.id))).all()
        flags = [(a.kind, a.suppressed) for a in rows]
        escalated = {job[0] for job in sched.jobs}
        ids = {a.kind: a.id for a in rows}
    assert flags == [("station_offline", False), ("heat", True), ("fire", False)]
    assert escalated == {ids["station_offline"], ids["fire"]}


def test_sweep_starts_escalation_that_never_started_and_only_once(
    engine: Engine, clock: ManualClock
) -> None:
    sched, pager = RecordingScheduler(), RecordingPager()
    service = EscalationService(engine, clock, sched, pager)
    # No fast path: as if cloud-duty stopped between storing the alert and escalating it.
    IngestPipeline(engine, clock, _directory()).process(
        [inbound(event("ev-1", clock.now(), kind=EventKind.FALL))]
    )
    with Session(engine) as session:
        pending = unescalated(session)
    assert len(pending) == 1
    service.start(pending)
    service.start(pending)  # the fast path and the sweep both fire: one start
    assert [job[1] for job in sched.jobs] == [0]
    with Session(engine) as session:
        assert unescalated(session) == []


@dataclass
class DroppingPager(RecordingPager):
    """Loses the database in the middle of the first page, as a cut connection does."""

    fail_next: bool = True

    def page(self, alert: AlertPublic, usernames: list[str], level: int) -> None:
        """Fail once, then record."""
        if self.fail_next:
            self.fail_next = False
            raise OperationalError("INSERT INTO page", {}, Exception("connection lost"))
        super().page(alert, usernames, level)


def _fall_alert(engine: Engine, clock: ManualClock, service: EscalationService) -> int:
    pipeline = IngestPipeline(engine, clock, _directory(), on_opened=service.start)
    pipeline.process([inbound(event("ev-1", clock.now(), kind=EventKind.FALL))])
    with Session(engine) as session:
        (alert_id,) = session.exec(select(Alert.id)).all()
    assert alert_id is not None
    return alert_id


def test_a_step_that_lost_the_database_while_paging_is_resumed_once(
    engine: Engine, clock: ManualClock
) -> None:
    _setup(engine)
    sched, pager = RecordingScheduler(), DroppingPager()
    service = EscalationService(engine, clock, sched, pager)
    alert_id = _fall_alert(engine, clock, service)
    with pytest.raises(OperationalError):
        _run_due(service, sched, clock)
    assert pager.pages == []
    assert service.resume_stalled() == 0  # not overdue yet: another thread may be sending

    clock.advance(OVERDUE.total_seconds() + 1)
    assert service.resume_stalled() == 1
    assert pager.pages == [(alert_id, ("li",), 1)]
    clock.advance(OVERDUE.total_seconds() + 1)
    assert service.resume_stalled() == 0  # paged: nothing stalled, nothing sent twice
    assert pager.pages == [(alert_id, ("li",), 1)]
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert (alert.escalation_level, alert.paged_steps) == (1, 1)


def test_a_step_whose_job_was_lost_runs_from_the_sweep(engine: Engine, clock: ManualClock) -> None:
    _setup(engine)
    sched, pager = RecordingScheduler(), RecordingPager()
    service = EscalationService(engine, clock, sched, pager)
    alert_id = _fall_alert(engine, clock, service)
    _run_due(service, sched, clock)
    sched.jobs.clear()  # the second step's job was never stored
    clock.advance(300 + OVERDUE.total_seconds() + 1)
    assert service.resume_stalled() == 1
    assert pager.pages == [(alert_id, ("li",), 1), (alert_id, ("wang",), 2)]


def test_a_crashed_step_is_held_by_its_lease_then_resumed(
    engine: Engine, clock: ManualClock
) -> None:
    """A replica that died between advancing the level and paging leaves the step leased."""
    _setup(engine)
    sched = RecordingScheduler()

    class CrashError(Exception):
        """The replica's process ends here."""

    class CrashingPager:
        def page(self, alert: AlertPublic, usernames: list[str], level: int) -> None:
            raise CrashError

    alert_id = _fall_alert(engine, clock, EscalationService(engine, clock, sched, CrashingPager()))
    with pytest.raises(CrashError):
        _run_due(EscalationService(engine, clock, sched, CrashingPager()), sched, clock)

    pager = RecordingPager()
    survivor = EscalationService(engine, clock, RecordingScheduler(), pager)
    clock.advance(OVERDUE.total_seconds() + 1)
    assert survivor.resume_stalled() == 0  # still leased: it might be sending right now
    clock.advance(STEP_LEASE.total_seconds())
    assert survivor.resume_stalled() == 1
    assert pager.pages == [(alert_id, ("li",), 1)]


@dataclass
class PageThenDropPager(RecordingPager):
    """Stores the step's phone page, then loses the database before the first text."""

    engine: Engine | None = None

    def page(self, alert: AlertPublic, usernames: list[str], level: int) -> None:
        """Store the page row, then fail; record only calls made after that."""
        if self.engine is not None:
            with Session(self.engine) as session:
                page = PhonePage(
                    alert_id=alert.id,
                    level=level,
                    chain=[[usernames[0], "sms"]],
                    short_code="0001",
                    deadline_at=datetime.now(UTC),
                )
                session.add(page)
                session.commit()
            self.engine = None
            raise OperationalError("SELECT page", {}, Exception("connection lost"))
        super().page(alert, usernames, level)


def test_a_resumed_step_whose_page_was_stored_does_not_page_again(
    engine: Engine, clock: ManualClock
) -> None:
    _setup(engine)
    sched, pager = RecordingScheduler(), PageThenDropPager(engine=engine)
    service = EscalationService(engine, clock, sched, pager)
    alert_id = _fall_alert(engine, clock, service)
    with pytest.raises(OperationalError):
        _run_due(service, sched, clock)
    clock.advance(OVERDUE.total_seconds() + 1)
    assert service.resume_stalled() == 1
    assert pager.pages == []  # page fail-over moves the stored page on; no second one
    with Session(engine) as session:
        assert len(session.exec(select(PhonePage)).all()) == 1
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert (alert.escalation_level, alert.paged_steps) == (1, 1)
    # The next step, at the next level, pages as usual.
    clock.advance(300)
    _run_due(service, sched, clock)
    assert pager.pages == [(alert_id, ("wang",), 2)]
