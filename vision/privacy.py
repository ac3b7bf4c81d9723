"""Faces blurred before any image leaves the node: YuNet faces, and every person's head."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vision.detector import Detection
from vision.errors import PrivacyError
from vision.roles import Role

log = logging.getLogger(__name__)

# Margin around a face box: YuNet boxes are tight and hair or ears still identify people.
_MARGIN = 0.25
# Share of a standing person's box that is the head, blurred even where YuNet finds no face.
_HEAD_SHARE = 0.22


class FaceBlurrer:
    """Finds faces with cv2.FaceDetectorYN and blurs them, plus the heads of detected people."""

    def __init__(self, model_path: Path, score_threshold: float = 0.5) -> None:
        """Load the YuNet ONNX model from `model_path` or raise PrivacyError."""
        if not Path(model_path).is_file():
            raise PrivacyError(f"face model {model_path} does not exist")
        try:
            self._yunet: Any = cv2.FaceDetectorYN.create(
                str(model_path), "", (320, 320), score_threshold, 0.3, 5000
            )
        except cv2.error as err:
            raise PrivacyError(f"cannot load face model {model_path}: {err}") from err

    def faces(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Return face boxes (x, y, w, h) in pixels."""
        h, w = frame.shape[:2]
        self._yunet.setInputSize((w, h))
        _, found = self._yunet.detect(frame)
        if found is None:
            return []
        return [(int(f[0]), int(f[1]), int(f[2]), int(f[3])) for f in found]

    def blur(self, frame: np.ndarray, people: Sequence[Detection] = ()) -> np.ndarray:
        """Return a copy of the frame with every face and every person's head blurred."""
        out = frame.copy()
        regions = [_grow(box, _MARGIN) for box in self.faces(frame)]
        for det in people:
            if det.role is Role.PERSON:
                x1, y1, x2, y2 = det.box
                regions.append((x1, y1, x2 - x1, (y2 - y1) * _HEAD_SHARE))
        _cover(out, regions)
        # A second look: a face half-hidden by a neighbour's can surface once that one is gone.
        _cover(out, [_grow(box, _MARGIN) for box in self.faces(out)])
        return out

    def snapshot(
        self, frame: np.ndarray, people: Sequence[Detection] = (), quality: int = 80
    ) -> bytes:
        """Return the blurred frame as JPEG bytes, ready to leave the node."""
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
        ok, encoded = cv2.imencode(".jpg", self.blur(frame, people), params)
        if not ok:
            raise PrivacyError("JPEG encoding failed")
        return bytes(encoded.tobytes())


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
