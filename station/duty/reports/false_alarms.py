"""Alerts judged false alarms, with their snapshots, as a YOLO dataset of hard negatives."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.duty.alerting.models import Alert, EventRecord, Verdict
from station.duty.alerting.snapshots import SnapshotStorage
from station.duty.people.audit import audit

logger = logging.getLogger(__name__)

CLASS_NAMES = ["person", "fallen", "fire", "smoke"]


@dataclass(frozen=True)
class ExportSummary:
    """What the export wrote."""

    images: int
    without_snapshot: int


def export_false_alarms(
    engine: Engine, store: SnapshotStorage, out: Path, actor: str = "cli"
) -> ExportSummary:
    """Write images/, empty labels/ (nothing real was there), data.yaml and index.csv; the
    export (snapshots leaving cloud-duty) goes in the audit log under `actor`."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    rows = _false_alarm_events(engine)
    written = missing = 0
    with (out / "index.csv").open("w", newline="") as index:
        table = csv.writer(index)
        table.writerow(["image", "alert_id", "kind", "station_id", "judged_by", "judged_at"])
        for event, alert in rows:
            jpeg = store.load(event.node_id, event.id)
            if jpeg is None:
                missing += 1
                continue
            (out / "images" / f"{event.id}.jpg").write_bytes(jpeg)
            (out / "labels" / f"{event.id}.txt").write_text("")
            table.writerow(
                [
                    f"images/{event.id}.jpg",
                    alert.id,
                    alert.kind,
                    alert.station_id,
                    alert.verdict_by,
                    alert.verdict_at,
                ]
            )
            written += 1
    _write_data_yaml(out)
    with Session(engine) as session:
        audit(session, actor, "export false alarms", str(out)[:128], None, f"{written} snapshot(s)")
        session.commit()
    logger.info("exported %d false alarm(s); %d had no snapshot", written, missing)
    return ExportSummary(written, missing)


def _false_alarm_events(engine: Engine) -> list[tuple[EventRecord, Alert]]:
    with Session(engine) as session:
        rows = session.exec(
            select(EventRecord, Alert)
            .join(Alert, col(Alert.id) == col(EventRecord.alert_id))
            .where(Alert.verdict == Verdict.FALSE_ALARM)
            .order_by(col(EventRecord.started_at))
        ).all()
    return list(rows)


def _write_data_yaml(out: Path) -> None:
    data = {
        "path": str(out.resolve()),
        "train": "images",
        "val": "images",
        "names": dict(enumerate(CLASS_NAMES)),
    }
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
