"""Fleet alerts from heartbeats: a camera that stops delivering frames, a model slower than
its budget, a full disk. They tell an operator the node needs care; they are never hazards."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from station.contracts import NodeHealth
from station.duty.alerting.alert_book import AlertBook
from station.duty.alerting.alerts import STATION_OFFLINE
from station.duty.alerting.models import Alert, AlertStatus

logger = logging.getLogger(__name__)

CAMERA_SILENT = "camera_silent"  # zone: <node>/<camera>
MODEL_SLOW = "model_slow"  # zone: the node
DISK_FULL = "disk_full"  # zone: the node
HEALTH_KINDS = frozenset({CAMERA_SILENT, MODEL_SLOW, DISK_FULL})
FLEET_KINDS = HEALTH_KINDS | {STATION_OFFLINE}
"""Alerts about the fleet's machines, not about people in a station."""
_SEVERITY = {CAMERA_SILENT: "major", MODEL_SLOW: "warning", DISK_FULL: "major"}
_ZONE_LENGTH = 64  # Alert.zone


@dataclass(frozen=True)
class HealthLimits:
    """Where a heartbeat figure becomes a fleet alert."""

    camera_silent_s: float
    inference_budget_ms: float
    disk_full_percent: float


def camera_zone(node_id: str, camera_id: str) -> str:
    """The alert zone naming one camera of one node."""
    return f"{node_id}/{camera_id}"[:_ZONE_LENGTH]


def health_problems(beat: NodeHealth, limits: HealthLimits) -> dict[tuple[str, str], str]:
    """The (kind, zone) of each problem a heartbeat shows, with why, for people to read."""
    found: dict[tuple[str, str], str] = {}
    for camera in beat.cameras:
        age = camera.last_frame_age_s
        if not camera.connected or (age is not None and age > limits.camera_silent_s):
            why = "未连接" if not camera.connected else f"{age:.0f} 秒没有画面"
            found[(CAMERA_SILENT, camera_zone(beat.node_id, camera.camera_id))] = (
                f"摄像头 {camera.camera_id} {why}"
            )
    if beat.inference_ms > limits.inference_budget_ms:
        found[(MODEL_SLOW, beat.node_id)] = (
            f"模型推理 {beat.inference_ms:.0f} ms,超出预算 {limits.inference_budget_ms:.0f} ms"
        )
    disk = beat.disk_used_percent
    if disk is not None and disk >= limits.disk_full_percent:
        found[(DISK_FULL, beat.node_id)] = f"磁盘已用 {disk:.0f}%"
    return found


def _owned_by(zone: str, node_id: str) -> bool:
    return zone == node_id or zone.startswith(f"{node_id}/")


def apply_health_checks(
    book: AlertBook,
    stations: dict[str, str],
    beats: dict[str, NodeHealth],
    limits: HealthLimits,
    now: datetime,
) -> None:
    """Raise a fleet alert for each new problem in the heartbeats; clear those now gone."""
    if not beats:
        return
    active = _active_health_alerts(book.session, {stations[n] for n in beats})
    for node_id, beat in beats.items():
        station_id = stations[node_id]
        problems = health_problems(beat, limits)
        for (kind, zone), why in problems.items():
            if (station_id, kind, zone) in active:
                continue  # still the same problem: one alert, not one per heartbeat
            logger.warning("node %s: %s", node_id, why)
            book.raise_alert(
                station_id, kind, zone, now, 1.0, f"health-{node_id}"[:64], _SEVERITY[kind]
            )
        for (station, kind, zone), alert in active.items():
            if station == station_id and _owned_by(zone, node_id) and (kind, zone) not in problems:
                book.clear(alert, now)


def _active_health_alerts(
    session: Session, station_ids: set[str]
) -> dict[tuple[str, str, str], Alert]:
    rows = session.exec(
        select(Alert)
        .where(
            col(Alert.station_id).in_(station_ids),
            col(Alert.kind).in_(HEALTH_KINDS),
            col(Alert.active),
            col(Alert.status) != AlertStatus.RESOLVED,
        )
        .with_for_update()
    ).all()
    return {(a.station_id, a.kind, a.zone): a for a in rows}
