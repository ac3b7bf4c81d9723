"""Judged alerts as a YOLO dataset in one model's own class list: confirmed alerts and false
alarms, each snapshot labelled with the boxes the node saw, split into train and val, with a
manifest of where every image came from.

Labelling policy (a false alarm is the image with the true objects labelled):
- confirmed alert: every box the node saw, in the class the node's model gave it;
- false alarm of a fall: the boxes of the "fallen" role were people who had not fallen (a
  person lying on a bench): labelled as the model's person class, or left out when it has
  none;
- false alarm of fire or smoke: the boxes of that role showed no fire (a red jacket, a lamp,
  steam): left out, so the image teaches "no fire here";
- false alarm of any other kind (crowd, presence): the objects were right, the count or the
  rule was not: every box kept;
- boxes of the other roles are kept as seen; a box whose class the model cannot express (no
  class of that name or role) is left out and counted;
- an event stored without boxes (a node older than the boxes in the contract) is skipped: an
  empty label file would teach that the people in it are not there.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from station.contracts import SeenBox
from station.duty.alerting.models import Alert, EventRecord, Verdict
from station.duty.alerting.snapshots import SnapshotStorage
from station.duty.errors import InvalidRequestError
from station.duty.people.audit import audit

logger = logging.getLogger(__name__)

# The role whose boxes raised an alert of each kind: in a false alarm those boxes were wrong.
_ALARM_ROLE: Final[Mapping[str, str]] = {"fall": "fallen", "fire": "fire", "smoke": "smoke"}
MANIFEST_COLUMNS: Final = (
    "image",
    "split",
    "station_id",
    "node_id",
    "camera_id",
    "event_id",
    "alert_id",
    "kind",
    "verdict",
    "judged_by",
    "judged_at",
    "source",
    "boxes_seen",
    "labels",
    "left_out",
)


@dataclass(frozen=True)
class LabelSpace:
    """A model's own class list (index order) and the role of each class that has one."""

    names: Sequence[str]
    roles: Mapping[str, str]

    def __post_init__(self) -> None:
        if not self.names:
            raise InvalidRequestError("the model has no classes to label with")

    def index_for(self, class_name: str, role: str) -> int | None:
        """The class of this name (any case), else the first class of the same role."""
        lowered = [name.lower() for name in self.names]
        if class_name.lower() in lowered:
            return lowered.index(class_name.lower())
        return self.index_of_role(role)

    def index_of_role(self, role: str) -> int | None:
        """The first class of this role, or None."""
        for index, name in enumerate(self.names):
            if self.roles.get(name) == role:
                return index
        return None


@dataclass
class TrainingSetSummary:
    """What the export wrote and what it skipped."""

    images: dict[str, int] = field(default_factory=lambda: {"train": 0, "val": 0})
    without_snapshot: int = 0
    without_boxes: int = 0
    boxes_left_out: int = 0

    @property
    def total(self) -> int:
        """Images written."""
        return sum(self.images.values())


@dataclass(frozen=True)
class _Sample:
    event: EventRecord
    alert: Alert
    jpeg: bytes
    boxes: list[SeenBox]


def labels_for(
    kind: str, verdict: Verdict, boxes: Sequence[SeenBox], space: LabelSpace
) -> list[tuple[int, SeenBox]]:
    """The (class index, box) labels of one judged snapshot under the policy above."""
    wrong_role = _ALARM_ROLE.get(kind) if verdict is Verdict.FALSE_ALARM else None
    labels: list[tuple[int, SeenBox]] = []
    for box in boxes:
        if box.role == wrong_role:
            person = space.index_of_role("person") if wrong_role == "fallen" else None
            if person is not None:
                labels.append((person, box))
            continue
        index = space.index_for(box.class_name, box.role)
        if index is not None:
            labels.append((index, box))
    return labels


def export_training_set(
    engine: Engine,
    store: SnapshotStorage,
    out: Path,
    space: LabelSpace,
    val_fraction: float = 0.2,
    actor: str = "cli",
) -> TrainingSetSummary:
    """Write images/{train,val}, labels/{train,val}, data.yaml and manifest.csv under `out`;
    snapshots leaving cloud-duty go in the audit log under `actor`."""
    if not 0 < val_fraction < 1:
        raise InvalidRequestError("val_fraction must be between 0 and 1")
    summary = TrainingSetSummary()
    samples = _samples(engine, store, summary)
    splits = _split([s.event.id for s in samples], val_fraction)
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as index:
        table = csv.writer(index)
        table.writerow(MANIFEST_COLUMNS)
        for sample in samples:
            split = splits[sample.event.id]
            table.writerow(_write_sample(out, split, sample, space, summary))
            summary.images[split] += 1
    _write_data_yaml(out, space, bool(summary.images["val"]))
    written = summary.images["train"] + summary.images["val"]
    with Session(engine) as session:
        audit(session, actor, "export training set", str(out)[:128], None, f"{written} snapshot(s)")
        session.commit()
    logger.info(
        "training set: %d train, %d val; skipped %d without snapshot, %d without boxes",
        summary.images["train"],
        summary.images["val"],
        summary.without_snapshot,
        summary.without_boxes,
    )
    return summary


def _write_sample(
    out: Path, split: str, sample: _Sample, space: LabelSpace, summary: TrainingSetSummary
) -> list[object]:
    event, alert = sample.event, sample.alert
    assert alert.verdict is not None  # the query selects judged alerts only
    labels = labels_for(event.kind, alert.verdict, sample.boxes, space)
    left_out = len(sample.boxes) - len(labels)
    summary.boxes_left_out += left_out
    image = f"images/{split}/{event.id}.jpg"
    (out / image).write_bytes(sample.jpeg)
    lines = [_yolo_line(index, box) for index, box in labels]
    (out / "labels" / split / f"{event.id}.txt").write_text("".join(lines), encoding="utf-8")
    return [
        image,
        split,
        event.station_id,
        event.node_id,
        event.camera_id,
        event.id,
        alert.id,
        event.kind,
        alert.verdict.value,
        alert.verdict_by or "",
        alert.verdict_at.isoformat() if alert.verdict_at else "",
        f"snapshot {event.node_id}/{event.id}",
        len(sample.boxes),
        len(labels),
        left_out,
    ]


def _yolo_line(index: int, box: SeenBox) -> str:
    cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
    return f"{index} {cx:.6f} {cy:.6f} {box.x2 - box.x1:.6f} {box.y2 - box.y1:.6f}\n"


def _samples(engine: Engine, store: SnapshotStorage, summary: TrainingSetSummary) -> list[_Sample]:
    samples: list[_Sample] = []
    for event, alert in _judged_events(engine):
        try:
            boxes = [SeenBox.model_validate(raw) for raw in event.boxes or []]
        except ValidationError:
            logger.warning("event %s: stored boxes are not valid; skipped", event.id)
            boxes = []
        if not boxes:
            summary.without_boxes += 1
            continue
        jpeg = store.load(event.node_id, event.id)
        if jpeg is None:
            summary.without_snapshot += 1
            continue
        samples.append(_Sample(event, alert, jpeg, boxes))
    return samples


def _split(ids: Sequence[str], val_fraction: float) -> dict[str, str]:
    """Deterministic: the same events land in the same split on every export."""
    ranked = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
    val = math.ceil(len(ranked) * val_fraction) if len(ranked) >= 2 else 0
    return {i: ("val" if n < val else "train") for n, i in enumerate(ranked)}


def _judged_events(engine: Engine) -> list[tuple[EventRecord, Alert]]:
    with Session(engine) as session:
        rows = session.exec(
            select(EventRecord, Alert)
            .join(Alert, col(Alert.id) == col(EventRecord.alert_id))
            .where(col(Alert.verdict).in_([Verdict.CONFIRMED, Verdict.FALSE_ALARM]))
            .order_by(col(EventRecord.started_at), col(EventRecord.id))
        ).all()
    return list(rows)


def _write_data_yaml(out: Path, space: LabelSpace, has_val: bool) -> None:
    # One image only: ultralytics needs a val set, so it validates on the training image.
    data = {
        "path": str(out.resolve()),
        "train": "images/train",
        "val": "images/val" if has_val else "images/train",
        "names": dict(enumerate(space.names)),
    }
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
