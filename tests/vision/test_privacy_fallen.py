"""The fallen person's head is blurred (real fall clip, real fall model, real YuNet), and a
snapshot in which the check after blurring still finds a face never leaves the node."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.vision.images import read_image
from vision.detector import Detection
from vision.errors import FaceRemainsError
from vision.privacy import FaceBlurrer, head_regions
from vision.roles import Role
from vision.weights import ModelSpec, load_detector

pytestmark = pytest.mark.integration

YUNET = Path("face") / "face_detection_yunet_2023mar.onnx"
# Frames of fall/fall.mp4 with the worker lying on the floor, and where their head is
# (looked up by eye in the frame; in frame 120 YuNet agrees).
LYING_HEADS = {120: (467, 179), 204: (485, 178)}


def _frames(media_dir: Path) -> dict[int, np.ndarray]:
    capture = cv2.VideoCapture(str(media_dir / "fall" / "fall.mp4"))
    frames: dict[int, np.ndarray] = {}
    index = 0
    while len(frames) < len(LYING_HEADS):
        ok, frame = capture.read()
        assert ok, f"the clip ended before frame {index}"
        if index in LYING_HEADS:
            frames[index] = frame
        index += 1
    capture.release()
    return frames


def _patch(image: np.ndarray, point: tuple[int, int], half: int = 8) -> np.ndarray:
    x, y = point
    return image[y - half : y + half, x - half : x + half].astype(float)


def test_the_fallen_persons_head_is_blurred_where_yunet_sees_no_face(
    models_dir: Path, media_dir: Path
) -> None:
    detector = load_detector(ModelSpec(model="package:fall_detection/models/best.pt", imgsz=320))
    blurrer = FaceBlurrer(models_dir / YUNET)
    for index, frame in _frames(media_dir).items():
        head = LYING_HEADS[index]
        [found] = detector.detect([frame])
        fallen = [d for d in found if d.role is Role.FALLEN]
        assert fallen, f"frame {index}: the fall model sees nobody down"
        assert any(
            x <= head[0] <= x + w and y <= head[1] <= y + h
            for x, y, w, h in head_regions(fallen[0])
        ), f"frame {index}: the head at {head} is outside the fallen box's head regions"
        faces_only = blurrer.blur(frame)
        with_people = blurrer.blur(frame, found)
        assert _patch(with_people, head).std() < _patch(frame, head).std() / 3, index
        if index == 204:  # YuNet finds no face here: alone, it would have sent this one
            assert blurrer.faces(frame) == []
            assert np.array_equal(_patch(faces_only, head), _patch(frame, head))
        assert blurrer.remaining_faces(with_people) == []


def test_head_regions_of_upright_fallen_and_lying_boxes() -> None:
    upright = Detection(Role.PERSON, "person", 0.9, (100, 50, 200, 350))
    curled = Detection(Role.FALLEN, "Fall", 0.9, (100, 100, 200, 200))
    lying = Detection(Role.FALLEN, "Fall", 0.9, (100, 200, 400, 300))
    fire = Detection(Role.FIRE, "fire", 0.9, (0, 0, 50, 50))
    expected = {
        upright: [(100, 50, 100, 66)],
        curled: [(100, 100, 100, 45)],
        lying: [(100, 200, 90, 100), (310, 200, 90, 100)],
    }
    for detection, regions in expected.items():
        got = head_regions(detection)
        assert np.allclose(np.array(got), np.array(regions, dtype=float)), detection
    assert head_regions(fire) == []


def test_a_snapshot_with_a_face_left_after_blurring_is_refused(
    models_dir: Path, media_dir: Path
) -> None:
    frame = read_image(media_dir / "people" / "zidane.jpg")
    # Blurring tuned too strictly (only faces it is 90 % sure of) misses the third face;
    # the check at the usual score finds it, and the snapshot stays here.
    careless = FaceBlurrer(models_dir / YUNET, score_threshold=0.9)
    assert len(careless.faces(frame)) == 2
    with pytest.raises(FaceRemainsError) as refused:
        careless.snapshot(frame)
    assert refused.value.faces == 1
    assert FaceBlurrer(models_dir / YUNET).snapshot(frame)[:2] == b"\xff\xd8"
