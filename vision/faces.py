"""Faces: YuNet detection, dlib 128-d descriptors, gallery matching, agreement and liveness.

Model files are read by path (YuNet from the shared models folder, dlib's 5-point shape
predictor and ResNet descriptor from the `face-recognition-models` wheel); nothing downloads.
"""

from __future__ import annotations

import importlib.util
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import cv2
import dlib  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt

from vision.errors import FaceModelError

Frame = npt.NDArray[np.uint8]
Descriptor = npt.NDArray[np.float64]

# dlib's own figure for this ResNet is 0.6 (99.38% on LFW); faces at a door camera are small
# and off-angle, so the default is stricter and tunable per node.
DEFAULT_THRESHOLD: Final = 0.5
_UPSCALE_TO: Final = 150


@dataclass(frozen=True)
class FaceBox:
    """A detected face: box, five landmarks (eyes, nose, mouth corners) and score."""

    x: float
    y: float
    w: float
    h: float
    landmarks: tuple[tuple[float, float], ...]
    score: float


@dataclass(frozen=True)
class FaceModelPaths:
    """Where the three model files are."""

    yunet: Path
    shape_predictor: Path
    descriptor: Path
    landmarks68: Path

    @classmethod
    def standard(cls, yunet: Path, dlib_dir: Path | None = None) -> FaceModelPaths:
        """YuNet at `yunet`, dlib's files by their names in `dlib_dir` (default: the wheel)."""
        folder = dlib_dir or default_dlib_dir()
        return cls(
            yunet,
            folder / "shape_predictor_5_face_landmarks.dat",
            folder / "dlib_face_recognition_resnet_model_v1.dat",
            folder / "shape_predictor_68_face_landmarks.dat",
        )


def default_dlib_dir() -> Path:
    """Return the models folder of the installed face-recognition-models wheel, unimported."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelError("the face-recognition-models package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceEngine:
    """Detects faces and computes descriptors; one instance per thread."""

    def __init__(self, paths: FaceModelPaths, min_score: float = 0.8) -> None:
        for path in (paths.yunet, paths.shape_predictor, paths.descriptor, paths.landmarks68):
            if not path.is_file():
                raise FaceModelError(f"face model file {path} does not exist")
        self._detector = cv2.FaceDetectorYN.create(str(paths.yunet), "", (320, 320), min_score)
        self._shapes = dlib.shape_predictor(str(paths.shape_predictor))
        self._net = dlib.face_recognition_model_v1(str(paths.descriptor))
        self._eyes = dlib.shape_predictor(str(paths.landmarks68))

    def detect(self, frame: Frame) -> list[FaceBox]:
        """Return the faces in a BGR frame, biggest first."""
        height, width = frame.shape[:2]
        self._detector.setInputSize((width, height))
        _, found = self._detector.detect(frame)
        if found is None:
            return []
        boxes = [
            FaceBox(
                float(r[0]),
                float(r[1]),
                float(r[2]),
                float(r[3]),
                tuple((float(r[4 + 2 * i]), float(r[5 + 2 * i])) for i in range(5)),
                float(r[14]),
            )
            for r in found
        ]
        return sorted(boxes, key=lambda b: b.w * b.h, reverse=True)

    def describe(self, frame: Frame, box: FaceBox) -> Descriptor:
        """Return the 128-d descriptor of one face."""
        rgb, rect = self._prepare(frame, box)
        shape = self._shapes(rgb, rect)
        return np.asarray(self._net.compute_face_descriptor(rgb, shape, 1), dtype=np.float64)

    def eyes(self, frame: Frame, box: FaceBox) -> float:
        """Return the face's eye aspect ratio, for the blink check."""
        rgb, rect = self._prepare(frame, box)
        shape = self._eyes(rgb, rect)
        points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], np.float64)
        return eye_aspect_ratio(points)

    def _prepare(self, frame: Frame, box: FaceBox) -> tuple[Frame, object]:
        crop, offset_x, offset_y, factor = self._crop(frame, box)
        rgb = np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        rect = dlib.rectangle(
            round((box.x - offset_x) * factor),
            round((box.y - offset_y) * factor),
            round((box.x - offset_x + box.w) * factor),
            round((box.y - offset_y + box.h) * factor),
        )
        return rgb, rect

    @staticmethod
    def _crop(frame: Frame, box: FaceBox) -> tuple[Frame, int, int, float]:
        """Cut a margin around the face and enlarge small faces: dlib wants about 150 px."""
        margin = max(box.w, box.h) * 0.6
        x0 = max(0, int(box.x - margin))
        y0 = max(0, int(box.y - margin))
        x1 = min(frame.shape[1], int(box.x + box.w + margin))
        y1 = min(frame.shape[0], int(box.y + box.h + margin))
        crop = frame[y0:y1, x0:x1]
        factor = max(1.0, _UPSCALE_TO / max(box.w, box.h, 1.0))
        if factor > 1.0:
            crop = np.asarray(
                cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC),
                dtype=np.uint8,
            )
        return np.ascontiguousarray(crop), x0, y0, factor


def distance(a: Descriptor, b: Descriptor) -> float:
    """Euclidean distance between two descriptors (dlib's metric)."""
    return float(np.linalg.norm(a - b))


@dataclass(frozen=True)
class Match:
    """The best gallery entry for a face and how far it is."""

    member_id: str
    distance: float


class Gallery:
    """Face templates of enrolled members, in memory; persistence is the node's job."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._templates: dict[str, list[Descriptor]] = {}

    def enrol(self, member_id: str, descriptor: Descriptor) -> None:
        """Add a template for a member."""
        if descriptor.shape != (128,):
            raise ValueError("a face template is a 128-d descriptor")
        self._templates.setdefault(member_id, []).append(descriptor.astype(np.float64))

    def remove(self, member_id: str) -> bool:
        """Delete every template of a member; return whether there was one."""
        return self._templates.pop(member_id, None) is not None

    def members(self) -> list[str]:
        """Return the enrolled member ids."""
        return sorted(self._templates)

    def templates(self, member_id: str) -> list[Descriptor]:
        """Return a member's templates."""
        return list(self._templates.get(member_id, []))

    def match(self, descriptor: Descriptor) -> Match | None:
        """Return the nearest member within the threshold, or None."""
        best: Match | None = None
        for member_id, templates in self._templates.items():
            for template in templates:
                d = distance(descriptor, template)
                if d < self.threshold and (best is None or d < best.distance):
                    best = Match(member_id, d)
        return best


@dataclass
class Agreement:
    """Opens only when the last `frames` matches all name the same member."""

    frames: int = 3
    _recent: deque[str | None] = field(default_factory=deque)

    def add(self, member_id: str | None) -> str | None:
        """Record one frame's match (None for no match); return the member once they agree."""
        self._recent.append(member_id)
        while len(self._recent) > self.frames:
            self._recent.popleft()
        if len(self._recent) < self.frames or len(set(self._recent)) != 1:
            return None
        return self._recent[-1]

    def reset(self) -> None:
        """Forget the frames seen so far."""
        self._recent.clear()


class BlinkLiveness:
    """Passes once the eyes are seen open, then closed, then open again: a blink.

    A printed photo or a still picture on a screen cannot blink, so it never passes. What
    this does not stop: a video of the member blinking played on a phone or tablet, a mask
    or photo with cut-out eyes worn by someone else, or an attacker who can make a
    member blink in front of the camera. One RGB camera cannot tell those apart; a depth or
    infrared camera can.
    """

    def __init__(self, closed: float = 0.2, opened: float = 0.25) -> None:
        self._closed = closed
        self._opened = opened
        self._phase = 0  # 0: waiting for open eyes, 1: open seen, 2: closed seen

    def add(self, ear: float) -> bool:
        """Take one frame's eye aspect ratio; return whether a blink has been seen."""
        if self._phase == 0 and ear >= self._opened:
            self._phase = 1
        elif self._phase == 1 and ear <= self._closed:
            self._phase = 2
        elif self._phase == 2 and ear >= self._opened:
            self._phase = 3
        return self._phase == 3

    def reset(self) -> None:
        """Start over (a new face in front of the camera)."""
        self._phase = 0


def eye_aspect_ratio(points: npt.NDArray[np.float64]) -> float:
    """Mean eye aspect ratio of both eyes from dlib's 68 landmarks (about 0.3 open, 0.1 shut)."""
    ratios = []
    for eye in (points[36:42], points[42:48]):
        vertical = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
        horizontal = 2.0 * np.linalg.norm(eye[0] - eye[3])
        ratios.append(float(vertical / horizontal) if horizontal else 0.0)
    return sum(ratios) / 2
