"""Face blurring with the real YuNet model on real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.vision.images import read_image
from vision.detector import Detection
from vision.errors import PrivacyError
from vision.privacy import FaceBlurrer
from vision.roles import Role

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def blurrer(models_dir: Path) -> FaceBlurrer:
    return FaceBlurrer(models_dir / "face" / "face_detection_yunet_2023mar.onnx")


@pytest.mark.parametrize(
    ("image", "least_faces"),
    [("people/zidane.jpg", 2), ("people/bus.jpg", 1), ("crowd/people1_f0343.jpg", 4)],
)
def test_no_face_is_found_after_blurring(
    blurrer: FaceBlurrer, media_dir: Path, image: str, least_faces: int
) -> None:
    frame = read_image(str(media_dir / image))
    assert len(blurrer.faces(frame)) >= least_faces
    blurred = blurrer.blur(frame)
    assert blurrer.faces(blurred) == []
    assert not np.array_equal(blurred, frame)
    assert frame.shape == blurred.shape


def test_heads_of_detected_people_are_blurred_even_without_a_face(
    blurrer: FaceBlurrer,
) -> None:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, size=(360, 640, 3), dtype=np.uint8)
    person = Detection(Role.PERSON, "person", 0.9, (100, 50, 200, 350))
    blurred = blurrer.blur(frame, [person])
    head = blurred[50:110, 100:200].astype(float)
    legs = blurred[200:350, 100:200]
    assert head.std() < frame[50:110, 100:200].std() / 3
    assert np.array_equal(legs, frame[200:350, 100:200])


def test_snapshot_is_a_jpeg_without_faces(blurrer: FaceBlurrer, media_dir: Path) -> None:
    frame = read_image(str(media_dir / "people" / "zidane.jpg"))
    data = blurrer.snapshot(frame)
    assert data[:2] == b"\xff\xd8"
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == frame.shape
    assert blurrer.faces(decoded) == []


def test_missing_or_broken_face_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PrivacyError, match="does not exist"):
        FaceBlurrer(tmp_path / "none.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(PrivacyError, match="cannot load"):
        FaceBlurrer(broken)
