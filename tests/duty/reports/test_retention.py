"""Retention on SQLite and PostgreSQL: resolved alerts with their trail, events, feed,
deliveries and commands go after the record period, the audit log after its longer one;
open alerts and recent records stay. The scheduled job applies the settings' periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, col, func, select

from station.duty.alerting.models import (
    Alert,
    AlertAction,
    AlertStatus,
    Delivery,
    EventRecord,
    FeedEntry,
)
from station.duty.alerting.snapshots import SnapshotStore
from station.duty.fleet.models import CommandRecord
from station.duty.jobs import apply_retention
from station.duty.people.models import AuditEntry
from station.duty.reports.retention import RetentionPolicy, run_retention
from station.duty.settings import DutySettings
from tests.duty.conftest import TOKEN, duty_services

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(snapshot_days=30, visit_days=90, record_days=180, audit_days=730)


def _alert(session: Session, days_ago: float, resolved: bool, zone: str) -> int:
    at = NOW - timedelta(days=days_ago)
    alert = Alert(
        station_id="st-1",
        kind="fire",
        zone=zone,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.OPEN,
        first_at=at,
        last_at=at,
        resolved_at=at if resolved else None,
    )
    session.add(alert)
    session.flush()
    assert alert.id is not None
    rows: list[SQLModel] = [
        AlertAction(alert_id=alert.id, action="resolve", actor="li", at=at),
        FeedEntry(alert_id=alert.id, change="resolved", at=at),
        Delivery(alert_id=alert.id, channel="sms", recipient="li", attempt=1, ok=True, at=at),
        EventRecord(
            id=f"ev-{zone}",
            node_id="node-1",
            station_id="st-1",
            camera_id="cam",
            kind="fire",
            score=0.9,
            started_at=at,
            updated_at=at,
            alert_id=alert.id,
        ),
        CommandRecord(
            id=f"cmd-{zone}",
            node_id="node-1",
            station_id="st-1",
            name="unlock",
            reason="locked out",
            issued_by="li",
            issued_at=at,
            expires_at=at + timedelta(minutes=1),
        ),
        AuditEntry(at=at, actor="li", action="read snapshot", target=zone),
    ]
    session.add_all(rows)
    return alert.id


def _count(session: Session, model: type[SQLModel]) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def test_records_and_the_audit_log_each_go_after_their_period(
    engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:
        old = _alert(session, 200, resolved=True, zone="old")
        kept_open = _alert(session, 400, resolved=False, zone="open")
        recent = _alert(session, 10, resolved=True, zone="recent")
        session.add(AuditEntry(at=NOW - timedelta(days=800), actor="wang", action="login"))
        session.commit()

    report = run_retention(engine, SnapshotStore(tmp_path), NOW, POLICY)
    assert (report.alerts, report.events, report.commands) == (1, 1, 2)
    # The open alert keeps its trail but its feed, deliveries and command are past the period.
    assert (report.feed_entries, report.deliveries, report.audit) == (2, 2, 1)
    with Session(engine) as session:
        alerts = set(session.exec(select(Alert.id)))
        assert alerts == {kept_open, recent}
        actions = set(session.exec(select(AlertAction.alert_id)))
        assert actions == {kept_open, recent}
        assert set(session.exec(select(EventRecord.id))) == {"ev-open", "ev-recent"}
        assert set(session.exec(select(CommandRecord.id))) == {"cmd-recent"}
        assert _count(session, FeedEntry) == _count(session, Delivery) == 1
        audit = session.exec(select(AuditEntry.target).where(col(AuditEntry.actor) == "li"))
        assert sorted(audit) == ["old", "open", "recent"]  # 200 and 400 days: within 730
        assert old not in alerts

    again = run_retention(engine, SnapshotStore(tmp_path), NOW, POLICY)
    assert again == type(again)()  # nothing more to do


def test_on_postgresql_the_audit_log_stays_append_only_for_anything_younger(
    engine: Engine,
) -> None:
    with Session(engine) as session:
        session.add(AuditEntry(at=datetime.now(UTC) - timedelta(days=300), actor="x", action="y"))
        session.commit()
    if engine.dialect.name != "postgresql":
        return  # SQLite has no trigger: the retention job alone decides there
    for statement in ("SELECT 1", "SET LOCAL uws.retention = 'on'"):
        with Session(engine) as session:
            session.execute(text(statement))
            young = delete(AuditEntry).where(col(AuditEntry.actor) == "x")
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(young)


def test_the_audit_log_must_outlive_what_it_records() -> None:
    with pytest.raises(ValueError, match="audit log"):
        RetentionPolicy(snapshot_days=30, visit_days=90, record_days=180, audit_days=100)
    with pytest.raises(ValueError, match="AUDIT_RETENTION"):
        DutySettings(api_token=TOKEN, record_retention_days=400, audit_retention_days=380)


def test_the_scheduled_job_applies_the_settings(api: TestClient) -> None:
    services = duty_services(api)
    with Session(services.engine) as session:
        past = services.clock.now() - timedelta(days=services.settings.record_retention_days + 1)
        session.add(
            CommandRecord(
                id="cmd-1",
                node_id="node-1",
                station_id="st-1",
                name="unlock",
                reason="r",
                issued_by="li",
                issued_at=past,
                expires_at=past,
            )
        )
        session.commit()
    assert apply_retention(services).commands == 1
