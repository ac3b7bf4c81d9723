"""Judged alerts -> a YOLO dataset in a model's own class list, with splits and a manifest."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from station.contracts import EventKind, SeenBox
from station.duty.alerting.models import Verdict
from station.duty.errors import InvalidRequestError
from station.duty.reports.training_set import LabelSpace, export_training_set, labels_for
from tests.duty.conftest import AUTH, ManualClock, duty_services, ingest, user_headers
from tests.duty.messages import event

# The shipped fall model's classes: Normal (a person) and Fall.
FALL_MODEL = LabelSpace(["Normal", "Fall"], {"Normal": "person", "Fall": "fallen"})
LYING = SeenBox(class_name="Fall", role="fallen", score=0.7, x1=0.2, y1=0.5, x2=0.6, y2=0.8)
STANDING = SeenBox(class_name="Normal", role="person", score=0.9, x1=0.7, y1=0.1, x2=0.9, y2=0.9)
FLAME = SeenBox(class_name="fire", role="fire", score=0.8, x1=0.1, y1=0.1, x2=0.2, y2=0.2)


def _jpeg(shade: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((36, 64, 3), shade, np.uint8))
    assert ok
    return data.tobytes()


def test_policy_relabels_a_false_fall_as_a_person_and_drops_a_false_fire() -> None:
    boxes = [LYING, STANDING, FLAME]
    false_fall = labels_for("fall", Verdict.FALSE_ALARM, boxes, FALL_MODEL)
    # Lying on a bench is a person, not a fall; the fall model has no fire class.
    assert [(i, b.class_name) for i, b in false_fall] == [(0, "Fall"), (0, "Normal")]
    confirmed = labels_for("fall", Verdict.CONFIRMED, boxes, FALL_MODEL)
    assert [i for i, _ in confirmed] == [1, 0]
    fire_model = LabelSpace(["smoke", "flame"], {"smoke": "smoke", "flame": "fire"})
    assert labels_for("fire", Verdict.FALSE_ALARM, boxes, fire_model) == []
    # Confirmed: the model's own class for the role, whatever the node's model called it.
    assert labels_for("fire", Verdict.CONFIRMED, [FLAME], fire_model) == [(1, FLAME)]
    with pytest.raises(InvalidRequestError):
        LabelSpace([], {})


def test_judged_alerts_export_with_boxes_splits_and_manifest(
    api: TestClient, clock: ManualClock, tmp_path: Path
) -> None:
    now = clock.now()
    duty = duty_services(api)
    kinds = [EventKind.FALL, EventKind.FIRE, EventKind.SMOKE, EventKind.CROWD]
    for n, kind in enumerate(kinds):
        boxes = [LYING, STANDING] if kind is EventKind.FALL else [STANDING]
        ingest(api, event(f"ev-{n}", now, kind=kind, zone=f"z{n}", boxes=boxes))
        duty.snapshots.save("node-1", f"ev-{n}", _jpeg(40 * n))
    ingest(api, event("ev-old-node", now, kind=EventKind.CROWD, zone="z9"))
    duty.snapshots.save("node-1", "ev-old-node", _jpeg(9))
    staff = user_headers(api, "li", "duty")
    listed = api.get("/api/v1/alerts", headers=AUTH).json()["items"]
    alerts = {a["kind"]: a["id"] for a in listed if a["zone"] != "z9"}
    old_node = next(a["id"] for a in listed if a["zone"] == "z9")
    for name, verdict in (("fall", "false_alarm"), ("fire", "confirmed"), ("smoke", "false_alarm")):
        body = {"verdict": verdict}
        api.post(f"/api/v1/alerts/{alerts[name]}/verdict", json=body, headers=staff)
    api.post(f"/api/v1/alerts/{old_node}/verdict", json={"verdict": "confirmed"}, headers=staff)

    out = tmp_path / "set"
    summary = export_training_set(duty.engine, duty.snapshots, out, FALL_MODEL, val_fraction=0.3)
    # Three judged with boxes (the crowd alert was never judged; the old node sent no boxes).
    assert (summary.total, summary.without_boxes, summary.images["val"]) == (3, 1, 1)
    with (out / "manifest.csv").open(encoding="utf-8") as rows:
        manifest = {row["event_id"]: row for row in csv.DictReader(rows)}
    assert set(manifest) == {"ev-0", "ev-1", "ev-2"}
    fall = manifest["ev-0"]
    assert (fall["verdict"], fall["judged_by"], fall["station_id"]) == ("false_alarm", "li", "st-1")
    assert (fall["source"], fall["labels"], fall["left_out"]) == ("snapshot node-1/ev-0", "2", "0")
    assert (out / fall["image"]).read_bytes() == _jpeg(0)
    label = out / "labels" / fall["split"] / "ev-0.txt"
    classes = [line.split()[0] for line in label.read_text().splitlines()]
    assert classes == ["0", "0"]  # the lying person is labelled a person
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "Normal", 1: "Fall"}
    assert (data["train"], data["val"]) == ("images/train", "images/val")
    assert sorted(p.name for p in (out / "images" / "val").iterdir()) == [
        f"{e}.jpg" for e, row in manifest.items() if row["split"] == "val"
    ]
    with pytest.raises(InvalidRequestError):
        export_training_set(duty.engine, duty.snapshots, out, FALL_MODEL, val_fraction=1.0)
