"""`station export-training` then `station train`: judged alerts with the boxes the node saw ->
a dataset in the fall model's classes -> one epoch at 160 px on CPU -> judged on a tiny dev
manifest against the current model; the weights are kept only beside a no-worse report."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session

from edge.analysis import seen_boxes
from station.cli.main import main
from station.duty.alerting.alerts import set_verdict
from station.duty.alerting.models import Verdict
from station.duty.app import snapshot_storage
from station.duty.db import make_engine, migrate
from station.duty.fleet.ingest import IngestPipeline
from station.duty.fleet.registry import NodeDirectory
from station.duty.settings import DutySettings
from tests.duty.conftest import ManualClock, register
from tests.duty.messages import event, inbound
from vision.detector import YoloDetector
from vision.evaluate import sample_frames
from vision.training import judge
from vision.weights import resolve_weights

FALL = "package:fall_detection/models/best.pt"
# (second of the clip, verdict): the lying ones confirmed, a standing one judged false.
JUDGED = ((1.0, Verdict.FALSE_ALARM), (5.5, Verdict.CONFIRMED), (6.5, Verdict.CONFIRMED))


def test_judge_needs_every_kind_no_worse() -> None:
    base = {"kinds": {"fall": {"found": 2, "detections": 3, "true_detections": 2}}}
    assert judge(base, base).no_worse
    fewer = {"kinds": {"fall": {"found": 1, "detections": 1, "true_detections": 1}}}
    assert judge(base, fewer).regressions == ["fall: found 1 true events, the current model 2"]
    noisier = {"kinds": {"fall": {"found": 2, "detections": 5, "true_detections": 2}}}
    assert not judge(base, noisier).no_worse
    counted = {"kinds": {}, "count_mean_abs_error": 1.0}
    assert not judge(counted, {"kinds": {}, "count_mean_abs_error": 2.0}).no_worse


@pytest.fixture
def duty_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DutySettings:
    monkeypatch.setenv("UWS_DATABASE_URL", f"sqlite:///{tmp_path / 'duty.sqlite'}")
    monkeypatch.setenv("UWS_SNAPSHOT_DIR", str(tmp_path / "snaps"))
    return DutySettings()


def _judged_falls(settings: DutySettings, clip: Path) -> None:
    """Frames of a real clip, boxed by the real fall model as a node would, then judged."""
    engine = make_engine(settings.database_url)
    migrate(engine)
    register(engine)
    clock = ManualClock()
    pipeline = IngestPipeline(engine, clock, NodeDirectory(unknown_ttl_s=0))
    store = snapshot_storage(settings, engine)
    detector = YoloDetector(resolve_weights(FALL), imgsz=320, confidence=0.3)
    frames = dict(sample_frames(clip, fps=2, still_s=1))
    for n, (at, verdict) in enumerate(JUDGED):
        image = frames[at]
        [found] = detector.detect([image])
        boxes = seen_boxes(found, image.shape[1], image.shape[0])
        assert boxes, f"the fall model saw nothing at {at} s"
        clock.advance(60)
        pipeline.process([inbound(event(f"ev-{n}", clock.now(), zone=f"z{n}", boxes=boxes))])
        store.save("node-1", f"ev-{n}", _jpeg(image))
        with Session(engine) as session:
            set_verdict(session, n + 1, "li", verdict, "", clock.now())
            session.commit()
    engine.dispose()


def _jpeg(image: object) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image)  # type: ignore[call-overload]
    assert ok
    return bytes(data.tobytes())


def test_export_then_train_keeps_weights_only_with_a_no_worse_report(
    duty_env: DutySettings, tmp_path: Path, media_dir: Path
) -> None:
    dev = media_dir / "dev"
    _judged_falls(duty_env, dev / "fall" / "dorm_fall01.mp4")
    dataset = tmp_path / "set"
    assert main(["export-training", "--out", str(dataset), "--model", FALL, "--val", "0.3"]) == 0
    with (dataset / "manifest.csv").open(encoding="utf-8") as rows:
        manifest = list(csv.DictReader(rows))
    assert [r["verdict"] for r in manifest] == [v.value for _, v in JUDGED]
    assert {r["judged_by"] for r in manifest} == {"li"}
    assert yaml.safe_load((dataset / "data.yaml").read_text())["names"] == {0: "Normal", 1: "Fall"}

    tiny = tmp_path / "dev.yaml"
    truth = [{"kind": "fall", "start": 5.5, "end": 7.8}]
    clips = [{"path": "fall/dorm_fall09.mp4", "events": truth}]
    model = {"model": FALL, "imgsz": 320, "hazards": ["fall"]}
    body = {"fps": 2, "models": [model], "clips": clips}
    tiny.write_text(yaml.safe_dump(body), encoding="utf-8")
    out = tmp_path / "trained"
    out.mkdir()
    argv = ["train", str(dataset / "data.yaml"), "--model", FALL, "--dev", str(tiny)]
    argv += ["--media-root", str(dev), "--out", str(out), "--epochs", "1", "--imgsz", "160"]
    code = main([*argv, "--batch", "2"])

    assert code in (0, 1)
    [report_path] = list(out.glob("*.json"))
    report = json.loads(report_path.read_text())
    assert report["current"]["kinds"]["fall"]["truths"] == 1
    assert [c["path"] for c in report["candidate"]["clips"]] == ["fall/dorm_fall09.mp4"]
    assert report["no_worse"] == judge(report["current"], report["candidate"]).no_worse
    weights = list(out.glob("*.pt"))
    if report["no_worse"]:
        assert code == 0
        assert report_path.name.endswith(".report.json")
        [kept] = weights
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == report["sha256"]
    else:
        assert code == 1
        assert weights == []
    assert not (out / "work").exists()
