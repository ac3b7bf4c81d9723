"""The real YOLOv8n int8 TFLite model on real images and clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.detector import YoloDetector
from vision.errors import ModelLoadError
from vision.roles import Role, RoleMap

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def detector(models_dir: Path) -> YoloDetector:
    return YoloDetector(models_dir / "coco" / "yolov8n_int8.tflite", confidence=0.4)


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    assert image is not None, f"cannot read {path}"
    return image


def _video_frame(path: Path, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
    finally:
        capture.release()
    assert ok, f"cannot read frame {index} of {path}"
    return image


def test_bus_image_has_persons_and_no_bus(detector: YoloDetector, media_dir: Path) -> None:
    image = read_image(media_dir / "people" / "bus.jpg")
    [found] = detector.detect([image])
    persons = [d for d in found if d.role is Role.PERSON]
    assert len(persons) >= 3
    # The bus is a COCO class with no role: it must not come out.
    assert {d.class_name for d in found} == {"person"}
    height, width = image.shape[:2]
    for det in persons:
        x1, y1, x2, y2 = det.box
        assert 0 <= x1 < x2 <= width + 1
        assert 0 <= y1 < y2 <= height + 1
        assert 0.4 <= det.score <= 1.0
    assert detector.last_inference_ms > 0


def test_crowd_frame_has_several_persons(detector: YoloDetector, media_dir: Path) -> None:
    frame = _video_frame(media_dir / "crowd" / "people1.mp4", 343)
    [found] = detector.detect([frame])
    assert sum(d.role is Role.PERSON for d in found) >= 6


def test_one_call_for_a_batch_gives_one_list_per_frame(
    detector: YoloDetector, media_dir: Path
) -> None:
    bus = read_image(media_dir / "people" / "bus.jpg")
    crowd = _video_frame(media_dir / "crowd" / "people1.mp4", 343)
    blank = np.zeros_like(crowd)
    results = detector.detect([bus, crowd, blank])
    assert len(results) == 3
    assert len(results[0]) >= 3
    assert len(results[1]) >= 6
    assert results[2] == []
    assert detector.detect([]) == []


def test_role_overrides_apply_to_model_classes(models_dir: Path, media_dir: Path) -> None:
    roles = RoleMap({"person": None, "bus": Role.PERSON})
    detector = YoloDetector(models_dir / "coco" / "yolov8n_int8.tflite", roles=roles)
    [found] = detector.detect([read_image(media_dir / "people" / "bus.jpg")])
    assert [d.class_name for d in found] == ["bus"]
    assert found[0].role is Role.PERSON


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.tflite"
    with pytest.raises(ModelLoadError, match="does not exist") as caught:
        YoloDetector(missing)
    assert str(missing) in str(caught.value)


def test_broken_model_file_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a model")
    with pytest.raises(ModelLoadError, match="cannot load model file") as caught:
        YoloDetector(broken)
    assert str(broken) in str(caught.value)
