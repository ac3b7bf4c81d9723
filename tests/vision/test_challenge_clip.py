"""A recorded face clip replayed to the door fails the challenge, whichever is drawn and
whenever the replay starts (real clip, real YuNet and dlib landmarks).

The shared media hold no clip made for face entry; fall/fall.mp4 shows a worker walking
towards the camera, face visible, before he falls. A replay attack holds a phone playing
the recording close to the door camera: here, the face's part of each frame enlarged three
times (faces 36-71 px wide)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from vision.challenge import Challenge, ChallengeKind, FaceSample, Outcome, choose, yaw_of
from vision.faces import FaceEngine, FaceModelPaths

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _replayed_samples(models_dir: Path, media_dir: Path) -> list[FaceSample]:
    engine = FaceEngine(
        FaceModelPaths.standard(models_dir / "face" / "face_detection_yunet_2023mar.onnx"),
        min_score=0.6,
    )
    capture = cv2.VideoCapture(str(media_dir / "fall" / "fall.mp4"))
    fps = capture.get(cv2.CAP_PROP_FPS)
    samples = []
    for index in range(140):  # the walk and the fall, about 5.8 s
        ok, frame = capture.read()
        assert ok
        if index % 2:
            continue
        enlarged = cv2.resize(
            frame[0:180, 120:420], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC
        )
        shown = np.asarray(enlarged, dtype=np.uint8)
        faces = engine.detect(shown)
        if faces:
            at = T0 + timedelta(seconds=index / fps)
            samples.append(FaceSample(at, yaw_of(faces[0].landmarks), engine.eyes(shown, faces[0])))
    capture.release()
    return samples


def test_a_replayed_recording_fails_every_challenge_from_every_start(
    models_dir: Path, media_dir: Path
) -> None:
    samples = _replayed_samples(models_dir, media_dir)
    assert len(samples) > 40, "the clip's face was not found"
    drawn = choose()
    outcomes: dict[ChallengeKind, set[Outcome]] = {}
    for kind in [drawn, *ChallengeKind]:
        for start in range(0, 50):  # the replay started at the prompt, or up to 5 s before
            challenge = Challenge(kind, T0 + timedelta(seconds=start / 10))
            for sample in samples:
                challenge.add(sample)
            outcomes.setdefault(kind, set()).add(challenge.expire(T0 + timedelta(seconds=20)))
    assert all(Outcome.PASSED not in seen for seen in outcomes.values()), outcomes
    # It fails for what it does: the walk turns the head the wrong way or not at all.
    assert Outcome.WRONG_MOVE in outcomes[ChallengeKind.TURN_LEFT]
    assert outcomes[ChallengeKind.BLINK_TWICE] <= {Outcome.WRONG_MOVE, Outcome.TIMEOUT}
