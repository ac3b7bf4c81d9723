"""Heartbeats raise fleet alerts: a silent camera, a slow model, a full disk; never a hazard."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.contracts import CameraHealth, NodeHealth
from station.duty.alerting.alerts import NEVER_SUPPRESSED
from station.duty.alerting.models import Alert, EventRecord
from station.duty.fleet.ingest import IngestPipeline
from station.duty.fleet.node_health import (
    CAMERA_SILENT,
    DISK_FULL,
    FLEET_KINDS,
    MODEL_SLOW,
    HealthLimits,
    health_problems,
)
from station.duty.fleet.registry import NodeDirectory
from tests.duty.conftest import ManualClock
from tests.duty.messages import health, inbound

LIMITS = HealthLimits(camera_silent_s=60, inference_budget_ms=400, disk_full_percent=90)


def _beat(
    at: datetime,
    *,
    camera_age: float | None = 0.1,
    connected: bool = True,
    inference_ms: float = 50,
    disk: float | None = 40,
) -> NodeHealth:
    camera = CameraHealth(
        camera_id="cam-1",
        connected=connected,
        fps=5,
        reconnects=0,
        last_frame_age_s=camera_age,
        dropped=3,
    )
    return health(at).model_copy(
        update={"cameras": [camera], "inference_ms": inference_ms, "disk_used_percent": disk}
    )


def _alerts(engine: Engine) -> list[tuple[str, str, bool, int]]:
    with Session(engine) as session:
        rows = session.exec(select(Alert).order_by(col(Alert.id))).all()
        return [(a.kind, a.zone, a.active, a.count) for a in rows]


def test_healthy_beat_shows_no_problem(clock: ManualClock) -> None:
    assert health_problems(_beat(clock.now()), LIMITS) == {}
    unknown_disk = _beat(clock.now(), disk=None, camera_age=None)
    assert health_problems(unknown_disk, LIMITS) == {}


def test_each_problem_is_named_with_its_zone(clock: ManualClock) -> None:
    beat = _beat(clock.now(), camera_age=61, inference_ms=401, disk=90)
    found = health_problems(beat, LIMITS)
    assert set(found) == {
        (CAMERA_SILENT, "node-1/cam-1"),
        (MODEL_SLOW, "node-1"),
        (DISK_FULL, "node-1"),
    }
    assert "61 秒没有画面" in found[(CAMERA_SILENT, "node-1/cam-1")]
    unplugged = health_problems(_beat(clock.now(), connected=False, camera_age=None), LIMITS)
    assert "未连接" in unplugged[(CAMERA_SILENT, "node-1/cam-1")]


def test_problems_raise_fleet_alerts_once_and_clear_when_gone(
    engine: Engine, clock: ManualClock
) -> None:
    pipeline = IngestPipeline(engine, clock, NodeDirectory(unknown_ttl_s=0), limits=LIMITS)
    pipeline.process([inbound(_beat(clock.now(), camera_age=120, inference_ms=900, disk=97))])
    clock.advance(30)
    pipeline.process([inbound(_beat(clock.now(), camera_age=150, inference_ms=900, disk=97))])
    raised = _alerts(engine)
    assert raised == [
        (CAMERA_SILENT, "node-1/cam-1", True, 1),
        (MODEL_SLOW, "node-1", True, 1),
        (DISK_FULL, "node-1", True, 1),
    ], "a problem that persists is one alert, not one per heartbeat"
    assert all(kind in FLEET_KINDS and kind not in NEVER_SUPPRESSED for kind, *_ in raised)
    with Session(engine) as session:
        assert session.exec(select(EventRecord)).all() == [], "no hazard event is made"
    clock.advance(30)
    pipeline.process([inbound(_beat(clock.now(), inference_ms=900))])
    assert [(k, active) for k, _, active, _ in _alerts(engine)] == [
        (CAMERA_SILENT, False),
        (MODEL_SLOW, True),
        (DISK_FULL, False),
    ]
    clock.advance(30)
    pipeline.process([inbound(_beat(clock.now(), camera_age=300))])
    assert _alerts(engine)[0] == (CAMERA_SILENT, "node-1/cam-1", True, 2)


def test_default_pipeline_holds_its_default_limits(
    pipeline: IngestPipeline, engine: Engine, clock: ManualClock
) -> None:
    pipeline.process([inbound(_beat(clock.now(), inference_ms=900, disk=94))])
    assert _alerts(engine) == []
    pipeline.process([inbound(_beat(clock.now(), inference_ms=1001, disk=95))])
    assert [kind for kind, *_ in _alerts(engine)] == [MODEL_SLOW, DISK_FULL]
