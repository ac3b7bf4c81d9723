"""An alert's severity comes from the node's events, rises with them and never falls."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.contracts import EventKind, EventPhase, EventSeverity
from station.duty.alerting.live_feed import feed_since
from station.duty.alerting.models import Alert
from station.duty.fleet.ingest import IngestPipeline
from tests.duty.conftest import AUTH, ManualClock, duty_services, ingest
from tests.duty.messages import event, inbound


def _severities(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(Alert).order_by(col(Alert.id))).all()
        return [(a.kind, a.severity) for a in rows]


def test_the_opening_event_sets_the_severity_and_the_kind_fills_in_without_one(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    t = clock.now()
    pipeline.process(
        [
            inbound(event("ev-1", t, kind=EventKind.FIRE, severity=EventSeverity.WARNING)),
            inbound(event("ev-2", t, kind=EventKind.CROWD, severity=EventSeverity.CRITICAL)),
            inbound(event("ev-3", t, kind=EventKind.FALL)),
        ]
    )
    assert _severities(engine) == [("fire", "warning"), ("crowd", "critical"), ("fall", "critical")]


def test_a_later_critical_event_raises_the_alert_and_a_warning_never_lowers_it(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    t = clock.now()
    warning, critical = EventSeverity.WARNING, EventSeverity.CRITICAL
    pipeline.process([inbound(event("ev-1", t, kind=EventKind.FIRE, severity=warning))])
    assert _severities(engine) == [("fire", "warning")]
    # The same event, updated once sensors agree with the camera.
    update = event("ev-1", t + timedelta(seconds=2), EventPhase.UPDATE, 1, kind=EventKind.FIRE)
    pipeline.process([inbound(update.model_copy(update={"severity": critical}))])
    assert _severities(engine) == [("fire", "critical")]
    later = event("ev-2", t + timedelta(seconds=9), kind=EventKind.FIRE, severity=warning)
    pipeline.process([inbound(later)])
    assert _severities(engine) == [("fire", "critical")]


def test_a_second_event_of_the_alert_can_raise_it_too(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    t = clock.now()
    crowd = EventKind.CROWD
    pipeline.process([inbound(event("ev-1", t, kind=crowd, severity=EventSeverity.WARNING))])
    pipeline.process(
        [
            inbound(
                event("ev-2", t + timedelta(seconds=5), kind=crowd, severity=EventSeverity.CRITICAL)
            )
        ]
    )
    assert _severities(engine) == [("crowd", "critical")]


def test_the_api_and_the_feed_show_the_severity(api: TestClient, clock: ManualClock) -> None:
    t = clock.now()
    ingest(api, event("ev-1", t, kind=EventKind.SMOKE, severity=EventSeverity.WARNING))
    alert = api.get("/api/v1/alerts", headers=AUTH).json()["items"][0]
    assert alert["severity"] == "warning"
    raised = event("ev-1", t + timedelta(seconds=1), EventPhase.UPDATE, 1, kind=EventKind.SMOKE)
    ingest(api, raised.model_copy(update={"severity": EventSeverity.CRITICAL}))
    assert api.get(f"/api/v1/alerts/{alert['id']}", headers=AUTH).json()["severity"] == "critical"
    feed = feed_since(duty_services(api).engine, 0)
    assert [(change, alert.severity) for _, change, alert in feed.entries][-1] == (
        "severity",
        "critical",
    )
