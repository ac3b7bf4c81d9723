"""Seeded alerts with their events and verdicts, and blurred snapshots for recent ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import Connection, insert

from devkit.seed.bulk import bulk, table_of
from devkit.seed.options import SeedOptions
from station.duty.alerting.models import Alert, AlertStatus, EventRecord, Verdict
from station.duty.alerting.snapshots import SnapshotStorage

ALERT_KINDS = {
    "crowd": ("warning", 0.34),
    "heat": ("warning", 0.2),
    "door_held_open": ("info", 0.12),
    "device_offline": ("warning", 0.1),
    "fall": ("critical", 0.1),
    "smoke": ("critical", 0.1),
    "fire": ("critical", 0.04),
}
SNAPSHOT_IMAGES = {
    "fall": "fall/fall_f0204.jpg",
    "fire": "fire/cctv_fire_testvideo_f0149.jpg",
    "smoke": "fire/smoke2_mp4-10_jpg.rf.1fa6f0db9bdabbf2c52ff08f1c18d040.jpg",
    "crowd": "crowd/people1_f0343.jpg",
}


class SnapshotError(RuntimeError):
    """A snapshot image for the seed cannot be read or encoded."""


def alerts(
    conn: Connection,
    rng: np.random.Generator,
    stations: list[dict[str, Any]],
    nodes: list[dict[str, Any]],
    options: SeedOptions,
    now: datetime,
) -> tuple[int, list[dict[str, Any]]]:
    """Resolved alerts with verdicts over the history, and a few still open now."""
    node_of = {n["station_id"]: n["id"] for n in nodes}
    kinds = list(ALERT_KINDS)
    weights = np.array([w for _, w in ALERT_KINDS.values()])
    alerts: list[dict[str, Any]] = []
    for ix, station in enumerate(stations):
        count = int(rng.poisson(options.alerts_per_week * options.days / 7))
        ages = np.sort(rng.uniform(2 * 3600, options.days * 86400, size=count))[::-1]
        for age in ages:
            kind = str(rng.choice(kinds, p=weights / weights.sum()))
            alerts.append(_alert(rng, station["id"], kind, now - timedelta(seconds=float(age))))
        if ix % 6 == 1:  # some stations have an alert nobody has resolved yet
            kind = ("fall", "smoke", "crowd", "heat")[ix // 6 % 4]
            fresh = _alert(rng, station["id"], kind, now - timedelta(minutes=25 + ix))
            fresh.update(status=AlertStatus.OPEN.value, active=True, verdict=None)
            fresh.update(resolved_at=None, resolved_by=None, verdict_by=None, verdict_at=None)
            fresh.update(acknowledged_at=None, acknowledged_by=None)
            alerts.append(fresh)
    for n, alert in enumerate(alerts):
        alert["last_event_id"] = alert["snapshot_event_id"] = f"ev-seed-{n + 1:07d}"
    ids = list(
        conn.execute(
            insert(table_of(Alert)).returning(table_of(Alert).c.id, sort_by_parameter_order=True),
            alerts,
        ).scalars()
    )
    events = [
        _event(a, alert_id, node_of[a["station_id"]])
        for a, alert_id in zip(alerts, ids, strict=True)
    ]
    bulk(conn, table_of(EventRecord), events)
    return len(alerts), events


def _alert(rng: np.random.Generator, station_id: str, kind: str, first: datetime) -> dict[str, Any]:
    severity = ALERT_KINDS[kind][0]
    last = first + timedelta(seconds=float(rng.uniform(5, 900)))
    acked = last + timedelta(seconds=float(rng.uniform(20, 300)))
    resolved = acked + timedelta(seconds=float(rng.uniform(60, 1800)))
    false_alarm = rng.random() < (0.55 if kind in ("fall", "fire", "smoke") else 0.25)
    staff = f"duty-{('li', 'wang', 'zhang', 'chen')[int(rng.integers(0, 4))]}"
    verdict = Verdict.FALSE_ALARM if false_alarm else Verdict.CONFIRMED
    return {
        "station_id": station_id,
        "kind": kind,
        "zone": "rest room",
        "severity": severity,
        "status": AlertStatus.RESOLVED.value,
        "active": False,
        "active_events": 0,
        "count": int(rng.integers(1, 6)),
        "score": round(float(rng.uniform(0.45, 0.95)), 2),
        "first_at": first,
        "last_at": last,
        "cleared_at": last,
        "acknowledged_by": staff,
        "acknowledged_at": acked,
        "resolved_by": staff,
        "resolved_at": resolved,
        "verdict": verdict.value,
        "verdict_by": staff,
        "verdict_at": resolved,
        "suppressed": False,
        "reopened": 0,
        "escalation_level": 0,
    }


def _event(alert: dict[str, Any], alert_id: int, node_id: str) -> dict[str, Any]:
    return {
        "id": alert["last_event_id"],
        "node_id": node_id,
        "station_id": alert["station_id"],
        "camera_id": "cam-1",
        "kind": alert["kind"],
        "zone": alert["zone"],
        "score": alert["score"],
        "count": alert["count"],
        "last_seq": 1,
        "started_at": alert["first_at"],
        "updated_at": alert["last_at"],
        "ended_at": alert["cleared_at"],
        "alert_id": alert_id,
    }


def snapshots(
    events: list[dict[str, Any]],
    now: datetime,
    media_dir: Path | None,
    store: SnapshotStorage | None,
) -> int:
    """Blurred snapshots for the last 30 days' visual alerts, from the shared media."""
    if media_dir is None or store is None:
        return 0
    jpegs: dict[str, bytes] = {}
    for kind, name in SNAPSHOT_IMAGES.items():
        image = cv2.imread(str(media_dir / name))
        if image is None:
            raise SnapshotError(f"cannot read {media_dir / name}")
        scale = 480 / image.shape[1]
        small = cv2.resize(image, (480, int(image.shape[0] * scale)))
        # A stand-in for the node's face blur: seeded images are blurred all over.
        ok, data = cv2.imencode(".jpg", cv2.GaussianBlur(small, (0, 0), 4))
        if not ok:
            raise SnapshotError(f"cannot encode {name}")
        jpegs[kind] = data.tobytes()
    recent = now - timedelta(days=30)
    written = 0
    for event in events:
        if event["kind"] in jpegs and event["started_at"] >= recent:
            store.save(event["node_id"], event["id"], jpegs[event["kind"]])
            written += 1
    return written
