"""Pose keypoints: raw output decoding, trunk and leg angles, how they change posture, and the
real YOLOv8-pose TFLite model on frames of the shared fall clip."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.vision.images import read_image
from vision.detector import Detection
from vision.errors import ModelLoadError
from vision.evaluate import sample_frames
from vision.events import Hazard, Phase
from vision.fall import FallMonitor, FallSettings, Posture, posture_of
from vision.pipeline import AnalysisSettings, CameraFrame, ModelUse, Pipeline
from vision.pose import (
    KEYPOINTS,
    Pose,
    PoseSettings,
    TflitePose,
    decode,
    legs_angle,
    trunk_angle,
    trunk_lying,
)
from vision.roles import Role
from vision.weights import ModelSpec, load_detector

POSE_FILE = "pose/yolov8n-pose_int8_meta.tflite"
T0 = datetime(2025, 6, 1, tzinfo=UTC)


def body(points: Mapping[int, tuple[float, float]], visibility: float = 0.9) -> Pose:
    """A pose with the given keypoints visible and the rest hidden."""
    xy = np.zeros((KEYPOINTS, 2), dtype=np.float32)
    seen = np.zeros(KEYPOINTS, dtype=np.float32)
    for index, point in points.items():
        xy[index], seen[index] = point, visibility
    return Pose(xy, seen, 0.9)


STANDING: dict[int, tuple[float, float]] = {
    5: (100, 50),
    6: (120, 50),
    11: (102, 120),
    12: (118, 120),
    15: (104, 200),
}
LYING: dict[int, tuple[float, float]] = {
    5: (40, 200),
    6: (40, 215),
    11: (120, 205),
    12: (120, 212),
    16: (200, 210),
}
BENT_OVER: dict[int, tuple[float, float]] = {5: (40, 110), 11: (120, 100), 15: (118, 200)}


def test_decode_scales_normalised_boxes_and_keeps_pixel_keypoints() -> None:
    raw = np.zeros((1, 56, 3), dtype=np.float32)
    raw[0, :5, 0] = (0.5, 0.5, 0.25, 0.5, 0.9)  # a person in the middle, box normalised
    raw[0, 5:, 0] = np.tile([100.0, 120.0, 0.8], KEYPOINTS)  # keypoints in input pixels
    raw[0, 4, 1] = 0.1  # below the score: dropped
    found = decode(raw, 224, min_score=0.25)
    assert found.scores.tolist() == pytest.approx([0.9])
    assert found.boxes[0].tolist() == pytest.approx([84.0, 56.0, 140.0, 168.0])
    assert found.keypoints[0, 0].tolist() == pytest.approx([100.0, 120.0, 0.8])


def test_decode_refuses_an_output_that_is_not_17_keypoints() -> None:
    with pytest.raises(ValueError, match="56 rows"):
        decode(np.zeros((84, 10), dtype=np.float32), 224, 0.25)


def test_trunk_and_legs_angles_from_vertical() -> None:
    assert trunk_angle(body(STANDING)) == pytest.approx(0.0, abs=1.0)
    assert legs_angle(body(STANDING)) == pytest.approx(4.3, abs=0.5)
    assert trunk_angle(body(LYING)) == pytest.approx(89.3, abs=0.5)
    assert legs_angle(body(LYING)) == pytest.approx(88.9, abs=0.5)
    # One shoulder and one hip are enough; none hidden below the visibility is used.
    assert trunk_angle(body({5: (0, 0), 11: (0, 10)})) == pytest.approx(0.0)
    assert trunk_angle(body(STANDING, visibility=0.3)) is None


def test_trunk_says_lying_only_with_the_legs_level_too() -> None:
    settings = PoseSettings()
    for pose, verdict in [(STANDING, False), (LYING, True), (BENT_OVER, None)]:
        p = body(pose)
        assert trunk_lying(trunk_angle(p), legs_angle(p), settings) is verdict
    assert trunk_lying(None, None, settings) is None


def person(
    box: tuple[float, float, float, float], pose: Mapping[int, tuple[float, float]]
) -> Detection:
    p = body(pose)
    return Detection(Role.PERSON, "person", 0.8, box, 1, trunk_angle(p), legs_angle(p))


def test_posture_from_box_backed_and_vetoed_by_the_trunk() -> None:
    wide, square = (0, 100, 200, 200), (0, 100, 110, 200)
    # Sitting on the floor, legs stretched out: a wide box, an upright trunk.
    assert posture_of(person(wide, STANDING), 1.3) is Posture.UNSURE
    assert posture_of(person(wide, {}), 1.3) is Posture.DOWN
    # Curled up lying: a square box, trunk and legs level.
    assert posture_of(person(square, LYING), 1.3) is Posture.DOWN
    assert posture_of(person(square, BENT_OVER), 1.3) is Posture.UNSURE
    # The model's own "fallen" class is not overruled (a body lying towards the camera).
    fallen = Detection(Role.FALLEN, "Fall", 0.8, square, 1, 10.0, 10.0)
    assert posture_of(fallen, 1.3) is Posture.DOWN


def test_sitting_down_fast_on_the_floor_is_no_fall_with_the_trunk_upright() -> None:
    # Fixed clock: upright, then a fast drop into a wide box; the trunk stays upright.
    def script(trunk: Mapping[int, tuple[float, float]]) -> list[Phase]:
        mon = FallMonitor()
        out = []
        for i in range(40):
            t = T0 + timedelta(seconds=i * 0.25)
            if i < 8:
                det = Detection(Role.PERSON, "person", 0.8, (300, 100, 340, 300), 1)
            else:
                det = person((280, 220, 420, 300), trunk)
            out += [e.phase for e in mon.update(t, [det], 640, 360)]
        return out

    assert script(STANDING) == []
    assert script(LYING) == [Phase.NEW]


@pytest.fixture(scope="module")
def pose_model(models_dir: Path) -> TflitePose:
    return TflitePose(models_dir / POSE_FILE)


@pytest.mark.integration
def test_real_pose_model_sees_the_fallen_worker_level_and_the_walking_one_upright(
    pose_model: TflitePose, media_dir: Path
) -> None:
    detector = load_detector(ModelSpec(model="package:fall_detection/models/best.pt"))
    angles = {}
    # Frame 21: the worker walks; frame 204: the worker lies on the floor.
    for name in ("fall_f0021.jpg", "fall_f0204.jpg"):
        frame = read_image(media_dir / "fall" / name)
        [person] = [d for d in detector.detect([frame])[0] if d.role in (Role.PERSON, Role.FALLEN)]
        [pose] = pose_model.estimate(frame, [person.box])
        assert pose is not None
        angles[name] = trunk_angle(pose)
    walking, lying = angles["fall_f0021.jpg"], angles["fall_f0204.jpg"]
    assert walking is not None
    assert walking <= 20
    assert lying is not None
    assert lying >= 70


@pytest.mark.integration
def test_pipeline_with_a_pose_model_finds_the_fall_with_the_trunk_in_its_evidence(
    models_dir: Path, media_dir: Path
) -> None:
    detector = load_detector(ModelSpec(model="package:fall_detection/models/best.pt"))
    pose = PoseSettings(model=str(models_dir / POSE_FILE))
    settings = AnalysisSettings(hazards=frozenset({Hazard.FALL}), fall=FallSettings(pose=pose))
    pipeline = Pipeline([ModelUse(detector)], {"cam": settings})
    found = []
    # The worker trips at 3.8 s and is on the floor from 4.0 s.
    for at, image in sample_frames(media_dir / "fall" / "fall.mp4", 4.0, 6.0):
        if at > 7.0:
            break
        if at >= 2.0:
            [result] = pipeline.analyse([CameraFrame("cam", T0 + timedelta(seconds=at), image)])
            found += [(at, e) for e in result.events if e.phase is Phase.NEW]
    assert [e.kind for _, e in found] == [Hazard.FALL]
    assert 4.0 <= found[0][0] <= 7.0
    assert "from vertical" in found[0][1].evidence


@pytest.mark.integration
def test_a_missing_broken_or_detection_model_file_is_refused_clearly(
    models_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="does not exist"):
        TflitePose(tmp_path / "missing.tflite")
    with pytest.raises(ModelLoadError, match="cannot load pose model"):
        TflitePose(broken)
    # The COCO detector is a TFLite YOLO too, but has no keypoints.
    with pytest.raises(ModelLoadError, match=r"\[1, 84, 8400\] is not a 17-keypoint"):
        TflitePose(models_dir / "coco" / "yolov8n_int8.tflite")
