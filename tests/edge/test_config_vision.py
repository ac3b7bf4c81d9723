"""The edge YAML's vision sections: analysis, extra models and privacy."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_config
from edge.errors import ConfigError
from vision.events import Hazard

BASE = """
node_id: node-v1
camera: {source: clips/fall.mp4}
detector: {model: models/fall.pt}
"""

VISION = """
analysis:
  hazards: [fall, fire]
  rest_zones: [[[0.1, 0.5], [0.4, 0.5], [0.4, 1.0], [0.1, 1.0]]]
  door: [[0.5, 0.0], [0.5, 1.0]]
  fall: {confirm_s: 4}
  fire: {window: 16}
  crowd: {capacity: 8}
models:
  - {model: models/fire.onnx, hazards: [fire, smoke]}
  - {model: "package:fire_detector/models/light_yolov8_flame.pt", preload: fire_detector}
privacy: {face_model: models/yunet.onnx, jpeg_quality: 70}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    return path


def test_vision_sections_load_with_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE + VISION))
    assert config.analysis is not None
    assert config.analysis.hazards == {Hazard.FALL, Hazard.FIRE}
    assert config.analysis.fall.confirm_s == 4
    assert config.analysis.fall.recover_s == 1.0  # untouched fields keep their defaults
    assert config.analysis.crowd.capacity == 8
    first, packaged = config.models
    assert first.model == str(tmp_path / "models" / "fire.onnx")
    assert packaged.model == "package:fire_detector/models/light_yolov8_flame.pt"
    assert config.privacy is not None
    assert config.privacy.face_model == tmp_path / "models" / "yunet.onnx"


def test_without_vision_sections_the_node_runs_presence_only(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.analysis.hazards == {Hazard.PERSON}
    assert (config.models, config.privacy) == ([], None)


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("analysis: {fall: {confirm: 4}}", "analysis.fall.confirm"),
        ("analysis: {hazards: [explosion]}", "analysis.hazards"),
        ("analysis: {hazards: [heat]}", "analysis.hazards: .*cannot see heat"),
        ("camera: {source: a.mp4, analysis: {fall: {confirm_s: -1}}}", "camera.analysis.fall"),
        ("analysis: {fire: {window: 1}}", "analysis.fire.window"),
        ("analysis: {crowd: {capacity: 0}}", "analysis.crowd.capacity"),
        ("analysis: {door: [[0.5, 0], [1.5, 1]]}", "analysis.door"),
        ("analysis: {door: [[0.5, 0], [0.5, 0]]}", "analysis.door: .*two distinct points"),
        ("models: [{model: ''}]", "models.0.model"),
        ("privacy: {face_model: f.onnx, jpeg_quality: 101}", "privacy.jpeg_quality"),
    ],
)
def test_bad_vision_sections_name_the_field(tmp_path: Path, extra: str, where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        load_config(write(tmp_path, BASE + extra + "\n"))
