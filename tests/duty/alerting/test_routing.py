"""What becomes an alert: presence never, one fire from camera and rules once, info never pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.contracts import Event, EventKind, EventPhase, EventSeverity
from station.duty.alerting.escalation import unescalated
from station.duty.alerting.models import Alert, EventRecord
from station.duty.fleet.ingest import IngestPipeline
from station.duty.fleet.registry import NodeDirectory
from tests.duty.conftest import ManualClock
from tests.duty.messages import event, inbound


def _alerts(engine: Engine) -> list[Alert]:
    with Session(engine) as session:
        return list(session.exec(select(Alert).order_by(col(Alert.id))).all())


def _pipeline(engine: Engine, clock: ManualClock, opened: list[int]) -> IngestPipeline:
    return IngestPipeline(engine, clock, NodeDirectory(unknown_ttl_s=0), on_opened=opened.extend)


def test_presence_is_kept_as_occupancy_and_raises_no_alert(
    engine: Engine, clock: ManualClock
) -> None:
    opened: list[int] = []
    pipeline = _pipeline(engine, clock, opened)
    t = clock.now()
    person = event("ev-p", t, kind=EventKind.PERSON, severity=EventSeverity.INFO)
    pipeline.process([inbound(person)])
    pipeline.process([inbound(event("ev-p", t, EventPhase.END, seq=1, kind=EventKind.PERSON))])
    assert _alerts(engine) == []
    assert opened == []
    with Session(engine) as session:
        (record,) = session.exec(select(EventRecord)).all()
    assert (record.kind, record.alert_id, record.count) == ("person", None, 1)
    assert record.ended_at is not None


def test_one_fire_seen_by_a_camera_and_the_rules_is_one_alert(
    engine: Engine, clock: ManualClock
) -> None:
    opened: list[int] = []
    pipeline = _pipeline(engine, clock, opened)
    t = clock.now()
    camera = event("ev-cam", t, kind=EventKind.FIRE, zone="room")
    rules = Event.model_validate(
        {
            **event("ev-rule", t, kind=EventKind.FIRE, zone="").model_dump(),
            "camera_id": None,
            "device_id": "env-1",
            "severity": EventSeverity.CRITICAL,
        }
    )
    pipeline.process([inbound(camera)])
    pipeline.process([inbound(rules)])
    (alert,) = _alerts(engine)
    assert (alert.kind, alert.zone, alert.count, alert.severity) == ("fire", "", 2, "critical")
    assert opened == [alert.id]
    # A fall is where the person is: two rooms, two alerts.
    pipeline.process([inbound(event("ev-f1", t)), inbound(event("ev-f2", t, zone="toilet"))])
    assert sorted(a.zone for a in _alerts(engine) if a.kind == "fall") == ["room", "toilet"]


def test_a_fire_alert_shows_the_cameras_snapshot_after_the_rules_event_folds_in(
    engine: Engine, clock: ManualClock
) -> None:
    pipeline = _pipeline(engine, clock, [])
    t = clock.now()
    camera = event("ev-cam", t, kind=EventKind.FIRE, zone="kitchen")
    camera = camera.model_copy(update={"has_snapshot": True})
    rules = Event.model_validate(
        {
            **event("ev-rule", t, kind=EventKind.FIRE, zone="").model_dump(),
            "camera_id": None,
            "device_id": "env-1",
            "severity": EventSeverity.CRITICAL,
        }
    )
    pipeline.process([inbound(camera)])
    pipeline.process([inbound(rules)])
    (alert,) = _alerts(engine)
    # The rules' event is the latest, but only the camera's came with a picture.
    assert (alert.last_event_id, alert.snapshot_event_id) == ("ev-rule", "ev-cam")
    again = event("ev-cam-2", t, kind=EventKind.FIRE, zone="kitchen")
    pipeline.process([inbound(again.model_copy(update={"has_snapshot": True}))])
    (alert,) = _alerts(engine)
    assert (alert.last_event_id, alert.snapshot_event_id) == ("ev-cam-2", "ev-cam-2")


def test_an_info_level_alert_is_shown_but_never_escalates(
    engine: Engine, clock: ManualClock
) -> None:
    opened: list[int] = []
    pipeline = _pipeline(engine, clock, opened)
    t = clock.now()
    pipeline.process([inbound(event("ev-c", t, kind=EventKind.CROWD, severity=EventSeverity.INFO))])
    (alert,) = _alerts(engine)
    assert alert.severity == "info"
    assert opened == []
    with Session(engine) as session:
        assert unescalated(session) == []
    # Once a later event makes it urgent, the sweep starts its escalation.
    later = event("ev-c", t + timedelta(seconds=5), EventPhase.UPDATE, seq=1, kind=EventKind.CROWD)
    warning = later.model_copy(update={"severity": EventSeverity.WARNING})
    pipeline.process([inbound(warning)])
    with Session(engine) as session:
        assert unescalated(session) == [alert.id]
