"""`station seed`: realistic, consistent data in bulk, on PostgreSQL and on SQLite."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from devkit.seed.cli import run_seed
from devkit.seed.options import SeedError, SeedOptions
from devkit.seed.stations import seed
from station.contracts import NodeHealth, utcnow
from station.duty.alerting.models import Alert, AlertStatus, EventRecord
from station.duty.alerting.snapshots import SnapshotStore
from station.duty.db import make_engine, migrate
from station.duty.fleet.models import Node, Station
from station.duty.people.models import ConsentRecord, Member, VisitRecord
from station.duty.reports.overview import overview as station_overview
from station.duty.reports.station_report import station_stats

pytestmark = pytest.mark.integration
ZONE = ZoneInfo("Asia/Shanghai")


def _count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


@pytest.fixture
def pg_engine(pg_url: str) -> Engine:
    engine = make_engine(pg_url)
    migrate(engine)
    return engine


def test_seed_writes_a_consistent_city(pg_engine: Engine, tmp_path: Path, media_dir: Path) -> None:
    now = utcnow()
    store = SnapshotStore(tmp_path / "snaps")
    options = SeedOptions(stations=8, days=30, members_per_station=20, media_dir=media_dir)
    summary = seed(pg_engine, options, now, store)
    with Session(pg_engine) as session:
        assert _count(session, Station) == summary.stations == 8
        assert _count(session, Node) == summary.nodes >= 8
        assert _count(session, Member) == summary.members == 160
        assert _count(session, VisitRecord) == summary.visits > 8 * 30 * 10
        assert _count(session, Alert) == summary.alerts == _count(session, EventRecord)
        assert _count(session, ConsentRecord) > 0
        for station in session.exec(select(Station)).all():
            assert 22.3 < (station.latitude or 0) < 22.9  # Shenzhen
            assert 113.7 < (station.longitude or 0) < 114.5
            assert station.capacity
            assert station.capacity >= 8
        for node in session.exec(select(Node)).all():
            NodeHealth.model_validate(node.health)  # the shape nodes really send
        bad_stays = session.exec(
            select(func.count())
            .select_from(VisitRecord)
            .where(col(VisitRecord.exited_at) <= col(VisitRecord.entered_at))
        ).one()
        assert bad_stays == 0
        assert session.exec(select(func.max(VisitRecord.entered_at))).one() <= now
        unresolved = session.exec(
            select(Alert.station_id, Alert.kind, Alert.zone).where(
                Alert.status != AlertStatus.RESOLVED
            )
        ).all()
        assert len(unresolved) == len(set(unresolved)) >= 1
        judged = session.exec(select(func.count()).where(col(Alert.verdict).is_not(None))).one()
        assert judged > 0
        # Every snapshot written belongs to an event of the last 30 days.
        files = list((tmp_path / "snaps").glob("*/*.jpg"))
        assert len(files) == summary.snapshots >= 1
        for file in files:
            event = session.get(EventRecord, file.stem)
            assert event is not None
            assert event.started_at >= now - timedelta(days=30)


def test_a_second_seed_is_refused_and_changes_nothing(pg_engine: Engine) -> None:
    now = utcnow()
    seed(pg_engine, SeedOptions(stations=2, days=3, members_per_station=5), now)
    with Session(pg_engine) as session:
        before = _count(session, VisitRecord)
    with pytest.raises(SeedError, match="already has stations"):
        seed(pg_engine, SeedOptions(stations=2, days=3, members_per_station=5), now)
    with Session(pg_engine) as session:
        assert _count(session, VisitRecord) == before


def test_seed_and_statistics_work_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'duty.sqlite'}")
    migrate(engine)
    now = utcnow()
    seed(engine, SeedOptions(stations=2, days=10, members_per_station=10), now)
    with Session(engine) as session:
        result = station_stats(session, "st-001", now - timedelta(days=10), now, ZONE)
        entered = session.exec(
            select(VisitRecord.entered_at).where(VisitRecord.station_id == "st-001")
        ).all()
        overview = station_overview(session, None, now, ZONE)
    assert result.visits == len(entered) > 0
    hours = [0] * 24
    for at in entered:
        hours[at.astimezone(ZONE).hour] += 1
    assert result.by_hour == hours
    assert [s.station_id for s in overview.stations] == ["st-001", "st-002"]


def test_seed_command_rejects_bad_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("UWS_DATABASE_URL", f"sqlite:///{tmp_path / 'duty.sqlite'}")
    args = argparse.Namespace(stations=0, days=365, visits_per_day=40, random_seed=1, media=None)
    assert run_seed(args) == 2
    assert "stations" in caplog.text
    assert not (tmp_path / "duty.sqlite").exists()
