"""Faces blurred before any image leaves the node: YuNet faces, and every person's head,
standing or fallen; a snapshot in which a stricter check still finds a face does not leave."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.detector import Detection
from vision.errors import FaceRemainsError, PrivacyError
from vision.roles import Role

log = logging.getLogger(__name__)

# Margin around a face box: YuNet boxes are tight and hair or ears still identify people.
_MARGIN = 0.25
# Share of a standing person's box that is the head, blurred even where YuNet finds no face.
_HEAD_SHARE = 0.22
# A lying person's head is at one end of a wide box, which end unknown: both ends are blurred,
# this share of the box's width each, full height (the feet lose nothing by it).
_LYING_END_SHARE = 0.3
# A fallen box taller than wide (caught mid-fall, or curled up): the head is lower in it.
_FALLEN_HEAD_SHARE = 0.45
# The check after blurring looks at least as hard as the blurring did: a face it finds is one
# the blurring missed or did not hide, and the image stays on the node. Much lower than 0.5
# and YuNet starts to see faces in the pixelated blocks themselves.
DEFAULT_CHECK_SCORE = 0.5


def head_regions(det: Detection) -> list[tuple[float, float, float, float]]:
    """Return the regions (x, y, w, h) where a detected person's head can be."""
    if det.role not in (Role.PERSON, Role.FALLEN):
        return []
    x1, y1, x2, y2 = det.box
    w, h = x2 - x1, y2 - y1
    if w > h:  # lying: either end
        end = w * _LYING_END_SHARE
        return [(x1, y1, end, h), (x2 - end, y1, end, h)]
    share = _FALLEN_HEAD_SHARE if det.role is Role.FALLEN else _HEAD_SHARE
    return [(x1, y1, w, h * share)]


class FaceBlurrer:
    """Finds faces with cv2.FaceDetectorYN and blurs them, plus the heads of detected people."""

    def __init__(
        self,
        model_path: Path,
        score_threshold: float = 0.5,
        check_score: float = DEFAULT_CHECK_SCORE,
    ) -> None:
        """Load the YuNet ONNX model from `model_path` or raise PrivacyError; faces scoring
        `score_threshold` are blurred, and a snapshot with one scoring `check_score` after
        blurring is refused."""
        if not Path(model_path).is_file():
            raise PrivacyError(f"face model {model_path} does not exist")
        try:
            self._yunet: Any = cv2.FaceDetectorYN.create(
                str(model_path), "", (320, 320), score_threshold, 0.3, 5000
            )
            self._checker: Any = cv2.FaceDetectorYN.create(
                str(model_path), "", (320, 320), min(check_score, score_threshold), 0.3, 5000
            )
        except cv2.error as err:
            raise PrivacyError(f"cannot load face model {model_path}: {err}") from err

    def faces(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Return face boxes (x, y, w, h) in pixels."""
        return _detect(self._yunet, frame)

    def remaining_faces(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Return the faces the stricter check finds (in an image already blurred)."""
        return _detect(self._checker, frame)

    def blur(self, frame: np.ndarray, people: Sequence[Detection] = ()) -> np.ndarray:
        """Return a copy of the frame with every face and every person's head blurred."""
        out = frame.copy()
        regions = [_grow(box, _MARGIN) for box in self.faces(frame)]
        for det in people:
            regions.extend(head_regions(det))
        _cover(out, regions)
        # A second look: a face half-hidden by a neighbour's can surface once that one is gone.
        _cover(out, [_grow(box, _MARGIN) for box in self.faces(out)])
        return out

    def snapshot(
        self, frame: np.ndarray, people: Sequence[Detection] = (), quality: int = 80
    ) -> bytes:
        """Return the blurred frame as JPEG bytes, ready to leave the node; raise
        FaceRemainsError when the check still finds a face in it."""
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
        ok, encoded = cv2.imencode(".jpg", self.blur(frame, people), params)
        if not ok:
            raise PrivacyError("JPEG encoding failed")
        # Checked as it will be seen: the JPEG decoded, not the array before compression.
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        left = self.remaining_faces(decoded) if decoded is not None else [(0, 0, 0, 0)]
        if left:
            raise FaceRemainsError(len(left))
        return bytes(encoded.tobytes())


def _detect(yunet: Any, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
    h, w = frame.shape[:2]
    yunet.setInputSize((w, h))
    _, found = yunet.detect(frame)
    if found is None:
        return []
    return [(int(f[0]), int(f[1]), int(f[2]), int(f[3])) for f in found]


def _cover(frame: np.ndarray, regions: list[tuple[float, float, float, float]]) -> None:
    h, w = frame.shape[:2]
    for x, y, bw, bh in regions:
        c1, r1 = max(int(x), 0), max(int(y), 0)
        c2, r2 = min(int(x + bw + 1), w), min(int(y + bh + 1), h)
        if c2 > c1 and r2 > r1:
            frame[r1:r2, c1:c2] = _pixelate(frame[r1:r2, c1:c2])


def _grow(box: tuple[int, int, int, int], margin: float) -> tuple[float, float, float, float]:
    x, y, w, h = box
    return x - w * margin, y - h * margin, w * (1 + 2 * margin), h * (1 + 2 * margin)


def _pixelate(region: np.ndarray) -> np.ndarray:
    """Return the region as a 3x3 colour average: eyes, nose and mouth do not survive it."""
    h, w = region.shape[:2]
    small = cv2.resize(region, (3, 3), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
