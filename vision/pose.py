"""Body keypoints of the people the detector found, and the trunk angle they give.

A box's aspect cannot tell someone sitting on the floor with legs stretched out (a wide box)
from someone lying, nor a person curled up on their side (a square box) from one crouching.
The line from the hips to the shoulders can: near vertical for sitting, standing and
crouching, near horizontal for lying. The pose model runs top-down: each person's box,
with a margin, is cut out and scaled to the model's input, so a person far away is seen at
the model's full resolution and the cost is one small model call per person asked about.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vision.detector import Box
from vision.errors import ModelLoadError
from vision.weights import resolve_weights

log = logging.getLogger(__name__)

# COCO keypoint order (17 points): the ones the trunk is drawn between.
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP = 5, 6, 11, 12
LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE = 13, 14, 15, 16
KEYPOINTS = 17
# Raw output rows: cx, cy, w, h, person score, then 17 x (x, y, visibility).
_ROWS = 5 + 3 * KEYPOINTS
# Coordinates at or below this are a fraction of the input side, not pixels: ultralytics'
# TFLite exports normalise boxes, and some versions normalise keypoints too.
_NORMALISED_MAX = 2.0
_LETTERBOX_GREY = 114


@dataclass(frozen=True)
class Pose:
    """One person's keypoints in frame pixels: xy (17 x 2), visibility (17) and the score."""

    xy: np.ndarray
    visibility: np.ndarray
    score: float


class PoseEstimator(Protocol):
    """Anything that gives the pose of the person inside each of some boxes of one frame."""

    def estimate(self, frame: np.ndarray, boxes: list[Box]) -> list[Pose | None]:
        """Return one pose per box (None where no person is found in it)."""
        ...

    @property
    def last_inference_ms(self) -> float:
        """Wall time of the last `estimate`, in milliseconds."""
        ...


def trunk_angle(pose: Pose, min_visibility: float = 0.5) -> float | None:
    """Return the hips-to-shoulders line's angle from vertical (0..90 degrees); None if unseen.

    One shoulder and one hip are enough (a body side-on hides the far ones); the midpoint
    of each pair is used where both are visible.
    """
    return _axis_angle(pose, (LEFT_SHOULDER, RIGHT_SHOULDER), (LEFT_HIP, RIGHT_HIP), min_visibility)


def legs_angle(pose: Pose, min_visibility: float = 0.5) -> float | None:
    """Return the hips-to-ankles (else hips-to-knees) angle from vertical; None if unseen."""
    hips = (LEFT_HIP, RIGHT_HIP)
    found = _axis_angle(pose, hips, (LEFT_ANKLE, RIGHT_ANKLE), min_visibility)
    return (
        found
        if found is not None
        else _axis_angle(pose, hips, (LEFT_KNEE, RIGHT_KNEE), min_visibility)
    )


def _axis_angle(
    pose: Pose, upper: tuple[int, int], lower: tuple[int, int], min_visibility: float
) -> float | None:
    top = _visible_mean(pose, upper, min_visibility)
    bottom = _visible_mean(pose, lower, min_visibility)
    if top is None or bottom is None:
        return None
    dx, dy = top[0] - bottom[0], top[1] - bottom[1]
    if math.hypot(dx, dy) < 1e-6:
        return None
    return math.degrees(math.atan2(abs(dx), abs(dy)))


def _visible_mean(
    pose: Pose, points: tuple[int, int], min_visibility: float
) -> tuple[float, float] | None:
    seen = [i for i in points if pose.visibility[i] >= min_visibility]
    if not seen:
        return None
    xy = pose.xy[seen].mean(axis=0)
    return float(xy[0]), float(xy[1])


@dataclass(frozen=True)
class Candidates:
    """Decoded raw output: boxes (N x 4, xyxy input pixels), scores (N), keypoints (N x 17 x 3)."""

    boxes: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray


def decode(raw: np.ndarray, side: int, min_score: float) -> Candidates:
    """Decode a YOLOv8-pose output (56 x N, or 1 x 56 x N) to candidates above `min_score`."""
    out = raw.reshape(raw.shape[-2], raw.shape[-1]) if raw.ndim == 3 else raw
    if out.shape[0] != _ROWS:
        raise ValueError(f"expected {_ROWS} rows (box, score, 17 keypoints), got {out.shape}")
    keep = out[4] >= min_score
    rows = out[:, keep].T.astype(np.float32)  # candidates x 56
    centre_size = rows[:, :4]
    if centre_size.size and float(np.abs(centre_size).max()) <= _NORMALISED_MAX:
        centre_size = centre_size * side
    cx, cy, w, h = centre_size.T
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    keypoints = rows[:, 5:].reshape(-1, KEYPOINTS, 3).copy()
    xy = keypoints[:, :, :2]
    if xy.size and float(np.abs(xy).max()) <= _NORMALISED_MAX:
        keypoints[:, :, :2] = xy * side
    return Candidates(boxes.reshape(-1, 4), rows[:, 4], keypoints)


@dataclass(frozen=True)
class _Crop:
    """Where a person's crop sits in the frame and how it was scaled into the input."""

    x0: float
    y0: float
    scale: float
    box: Box  # the person's box, in input pixels


def crop_for(frame: np.ndarray, box: Box, side: int, margin: float) -> tuple[np.ndarray, _Crop]:
    """Cut a square around `box` (grown by `margin` of its longer side), letterboxed to `side`."""
    x1, y1, x2, y2 = box
    length = max(x2 - x1, y2 - y1) * (1.0 + 2.0 * margin)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    x0, y0 = cx - length / 2.0, cy - length / 2.0
    scale = side / max(length, 1.0)
    # An affine warp pads outside the frame with grey, as the model's training letterbox did.
    matrix = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], dtype=np.float32)
    patch = cv2.warpAffine(
        frame,
        matrix,
        (side, side),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(_LETTERBOX_GREY,) * 3,
    )
    inner = ((x1 - x0) * scale, (y1 - y0) * scale, (x2 - x0) * scale, (y2 - y0) * scale)
    return patch, _Crop(x0, y0, scale, inner)


def best_match(found: Candidates, box: Box) -> int | None:
    """Return the candidate that best covers the person's box (overlap times score)."""
    if not len(found.scores):
        return None
    bx1, by1, bx2, by2 = box
    ix = np.clip(np.minimum(found.boxes[:, 2], bx2) - np.maximum(found.boxes[:, 0], bx1), 0, None)
    iy = np.clip(np.minimum(found.boxes[:, 3], by2) - np.maximum(found.boxes[:, 1], by1), 0, None)
    inter = ix * iy
    areas = (found.boxes[:, 2] - found.boxes[:, 0]) * (found.boxes[:, 3] - found.boxes[:, 1])
    union = areas + (bx2 - bx1) * (by2 - by1) - inter
    rank = inter / np.maximum(union, 1e-6) * found.scores
    best = int(np.argmax(rank))
    return best if rank[best] > 0 else None


class TflitePose:
    """A YOLOv8-pose TFLite model run on each person's crop; decoded here, not by ultralytics."""

    def __init__(
        self, model_path: Path, min_score: float = 0.25, margin: float = 0.15, threads: int = 1
    ) -> None:
        """Load the model at `model_path` or raise ModelLoadError."""
        self.model_path = Path(model_path)
        self.min_score = min_score
        self.margin = margin
        self._interpreter = _interpreter(self.model_path, threads)
        detail = self._interpreter.get_input_details()[0]
        self._input = detail["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self.side = int(detail["shape"][1])
        self._last_ms = 0.0

    @property
    def last_inference_ms(self) -> float:
        """Wall time of the last `estimate`, in milliseconds."""
        return self._last_ms

    def estimate(self, frame: np.ndarray, boxes: list[Box]) -> list[Pose | None]:
        """Return one pose per box (None where no person is found in it)."""
        started = time.perf_counter()
        poses = [self._one(frame, box) for box in boxes]
        self._last_ms = (time.perf_counter() - started) * 1000.0
        return poses

    def _one(self, frame: np.ndarray, box: Box) -> Pose | None:
        patch, crop = crop_for(frame, box, self.side, self.margin)
        rgb = cv2.cvtColor(patch, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        self._interpreter.set_tensor(self._input, rgb[None])
        self._interpreter.invoke()
        found = decode(self._interpreter.get_tensor(self._output), self.side, self.min_score)
        pick = best_match(found, crop.box)
        if pick is None:
            return None
        points = found.keypoints[pick]
        xy = points[:, :2] / crop.scale + np.array([crop.x0, crop.y0], dtype=np.float32)
        return Pose(xy, points[:, 2].copy(), float(found.scores[pick]))


def _interpreter(path: Path, threads: int) -> Any:
    if not path.is_file():
        raise ModelLoadError(f"pose model file {path} does not exist (set fall.pose.model)")
    from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415  (heavy import)

    try:
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
        shape = interpreter.get_output_details()[0]["shape"]
    except (ValueError, RuntimeError) as err:
        raise ModelLoadError(f"cannot load pose model {path}: {err}") from err
    if shape[-2] != _ROWS:
        raise ModelLoadError(
            f"{path}: output {[int(n) for n in shape]} is not a 17-keypoint YOLOv8-pose"
        )
    log.info("loaded pose model %s", path)
    return interpreter


class PoseSettings(BaseModel):
    """The optional pose model of a camera and what its trunk angle means (per camera)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(
        default=None,
        description="YOLOv8-pose TFLite file (path, or 'package:<module>/<path>'); its trunk "
        "angle backs the box's posture. null: posture from the box and class alone.",
    )
    lying_deg: float = Field(
        default=60.0,
        ge=0,
        le=90,
        description="Trunk (hips to shoulders) and legs (hips to ankles or knees) both at "
        "least this many degrees from vertical is lying, even in a box too square to say so.",
    )
    upright_deg: float = Field(
        default=35.0,
        ge=0,
        le=90,
        description="Trunk at most this many degrees from vertical is not lying (sitting on "
        "the floor, kneeling), even in a box wide enough for lying.",
    )
    visibility: float = Field(
        default=0.5, ge=0, le=1, description="Least keypoint visibility for a shoulder or hip."
    )
    min_score: float = Field(default=0.25, ge=0, le=1, description="Least person score.")
    margin: float = Field(
        default=0.15, ge=0, le=1, description="Crop margin around a box, share of its long side."
    )


def trunk_lying(
    trunk_deg: float | None, legs_deg: float | None, settings: PoseSettings
) -> bool | None:
    """Return True for a lying body, False for an upright trunk, None where it cannot tell.

    An upright trunk alone says "not lying" (sitting, kneeling); lying needs the legs level
    too, since bending over to pick something up also lays the trunk flat.
    """
    if trunk_deg is None:
        return None
    if trunk_deg <= settings.upright_deg:
        return False
    flat = trunk_deg >= settings.lying_deg
    return True if flat and legs_deg is not None and legs_deg >= settings.lying_deg else None


def load_pose(settings: PoseSettings) -> TflitePose | None:
    """Load the pose model the settings name (None when none is); raises ModelLoadError."""
    if settings.model is None:
        return None
    path = resolve_weights(settings.model)
    return TflitePose(path, min_score=settings.min_score, margin=settings.margin)
