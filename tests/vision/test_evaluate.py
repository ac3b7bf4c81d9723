"""The tests manifest over the shared media with the real models, and the scoring rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from station.cli.main import main
from tests.vision.images import read_image
from vision.errors import ManifestError
from vision.evaluate import (
    Clip,
    ClipResult,
    TruthEvent,
    evaluate,
    load_manifest,
    score,
)
from vision.events import Hazard
from vision.roles import Role
from vision.weights import ModelSpec, load_detector

MANIFEST = Path(__file__).parent / "manifest.yaml"
FIRE_MODEL = ModelSpec(
    model="package:fire_detector/models/light_yolov8_flame.pt", preload="fire_detector"
)


@pytest.fixture(scope="module")
def report(media_dir: Path) -> dict[str, Any]:
    return evaluate(MANIFEST, media_dir)


def clip(report: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in report["clips"] if c["path"] == path)
    return found


@pytest.mark.integration
def test_fall_clip_one_fall_within_3_s_and_none_while_walking(report: dict[str, Any]) -> None:
    events = clip(report, "fall/fall.mp4")["events"]
    assert [e["kind"] for e in events] == ["fall"]
    # The worker walks until 3.8 s and is on the floor from 4.0 s.
    assert 4.0 <= events[0]["at_s"] <= 7.0
    fall = report["kinds"]["fall"]
    assert (fall["precision"], fall["recall"]) == (1.0, 1.0)
    assert fall["median_delay_s"] <= 3.0


@pytest.mark.integration
def test_fire_clip_gives_a_fire_event(report: dict[str, Any]) -> None:
    kinds = [e["kind"] for e in clip(report, "fire/cctv_fire_testvideo.mp4")["events"]]
    assert kinds.count("fire") == 1
    assert report["kinds"]["fire"]["recall"] == 1.0


@pytest.mark.integration
def test_still_photo_of_a_fire_is_seen_but_does_not_flicker(
    report: dict[str, Any], media_dir: Path
) -> None:
    detector = load_detector(FIRE_MODEL)
    frame = read_image(media_dir / "fire" / "cctv_fire_testvideo_f0149.jpg")
    assert Role.FIRE in {d.role for d in detector.detect([frame])[0]}
    assert clip(report, "fire/cctv_fire_testvideo_f0149.jpg")["events"] == []


@pytest.mark.integration
@pytest.mark.parametrize("image", ["people/bus.jpg", "people/zidane.jpg"])
def test_stills_of_people_give_no_fall_and_no_fire(report: dict[str, Any], image: str) -> None:
    assert clip(report, image)["events"] == []


@pytest.mark.integration
def test_crowd_frame_count_within_2(report: dict[str, Any]) -> None:
    (count,) = clip(report, "crowd/people1_f0343.jpg")["counts"]
    assert count["truth"] == 11
    assert abs(count["predicted"] - 11) <= 2


def test_scoring_counts_true_false_and_missed() -> None:
    clips = [
        Clip(path="a.mp4", events=[TruthEvent(kind=Hazard.FALL, start=5.0, end=9.0)]),
        Clip(path="b.mp4", events=[TruthEvent(kind=Hazard.FIRE, start=0.0, end=4.0)]),
        Clip(path="c.jpg"),
    ]
    results = [
        # 4.2 s is inside the 1 s grace before the start; 2.0 s is a false alarm.
        ClipResult("a.mp4", [(Hazard.FALL, 2.0), (Hazard.FALL, 4.2)], judged=frozenset(Hazard)),
        ClipResult("b.mp4", [], judged=frozenset(Hazard)),
        ClipResult("c.jpg", [(Hazard.SMOKE, 1.0)], [(0.0, 11, 8)], judged=frozenset(Hazard)),
    ]
    out = score(clips, results)
    assert out["kinds"]["fall"]["precision"] == 0.5
    assert out["kinds"]["fall"]["recall"] == 1.0
    assert out["kinds"]["fall"]["median_delay_s"] == 0.0
    assert out["kinds"]["fire"]["recall"] == 0.0
    assert out["kinds"]["fire"]["precision"] is None
    assert out["kinds"]["smoke"]["precision"] == 0.0
    assert out["count_abs_errors"] == [3]


def test_bad_manifests_are_refused_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clips: [{path: a.mp4, surprise: 1}]\nmodels: [{model: x.pt}]\n")
    with pytest.raises(ManifestError, match=r"clips\.0\.surprise"):
        load_manifest(bad)
    bad.write_text("clips: [\n")
    with pytest.raises(ManifestError, match="not valid YAML"):
        load_manifest(bad)
    bad.write_text("models: [{model: x.pt}]\nclips: [{path: none.mp4}]\n")
    with pytest.raises(ManifestError, match=r"not found under .*none\.mp4"):
        evaluate(bad, tmp_path)


@pytest.mark.integration
def test_station_eval_command(
    tmp_path: Path, media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = tmp_path / "crowd.yaml"
    small.write_text(
        "fps: 2\nstill_s: 2\n"
        "models: [{model: 'package:fall_detection/models/best.pt', confidence: 0.4}]\n"
        "clips: [{path: crowd/people1_f0343.jpg, hazards: [crowd],"
        " counts: [{at: 0.5, persons: 11}]}]\n"
    )
    code = main(["eval", str(small), "--media-root", str(media_dir), "--no-progress"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["media_root"] == str(media_dir.resolve())
    assert printed["count_abs_errors"][0] <= 2
    assert main(["eval", str(tmp_path / "missing.yaml")]) == 2
