"""Flicker and growth of a detected fire or smoke region, measured at the region's own scale.

A whole-frame thumbnail leaves a far fire a few pixels wide, where its flicker drowns in
the rest of the box; here each box is cut from the full frame and resized to the same
small patch, so a flame 20 pixels high flickers as much as one 400 pixels high. A still
photo or a lamp changes little from frame to frame whatever its size.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vision.detector import Box
from vision.exposure import DarkLift, lift_dark

# Each region is compared as a PATCH x PATCH grey patch: detail enough for flame edges,
# and a fixed cost per box whatever its size.
PATCH = 24
# The box is widened by this share of its size on each side: flames lick past their box.
_MARGIN = 0.1
# A dark frame is compared as if exposed normally: flames dimmed by a dark camera change
# by as large a share of their brightness, but by fewer grey levels.
_EXPOSED = DarkLift()
# Most frame width kept for the grey copy the patches are cut from (bounds the cost).
_MAX_W = 960


def grey_frame(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """Return a grey copy of a BGR frame, at most _MAX_W wide and brightened when dark, and the
    scale applied."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    scale = min(1.0, _MAX_W / grey.shape[1])
    if scale < 1.0:
        size = (_MAX_W, max(round(grey.shape[0] * scale), 1))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return lift_dark(grey, _EXPOSED), scale


def patch(grey: np.ndarray, box: Box, scale: float) -> np.ndarray | None:
    """Return the widened box cut from a grey frame as a PATCH x PATCH float patch (0..1)."""
    h, w = grey.shape
    x1, y1, x2, y2 = (v * scale for v in box)
    mx, my = (x2 - x1) * _MARGIN, (y2 - y1) * _MARGIN
    c1, r1 = max(int(x1 - mx), 0), max(int(y1 - my), 0)
    c2, r2 = min(int(np.ceil(x2 + mx)), w), min(int(np.ceil(y2 + my)), h)
    if c2 - c1 < 2 or r2 - r1 < 2:
        return None
    crop = cv2.resize(grey[r1:r2, c1:c2], (PATCH, PATCH), interpolation=cv2.INTER_AREA)
    return crop.astype(np.float32) / 255.0


def region_flicker(
    before: np.ndarray, after: np.ndarray, boxes: Sequence[Box], scale: float
) -> float | None:
    """Return the mean frame-to-frame change (0..1) of the boxes' patches; None: no patch."""
    changes = []
    for box in boxes:
        a, b = patch(before, box, scale), patch(after, box, scale)
        if a is None or b is None:
            continue
        changes.append(float(np.abs(b - a).mean()))
    return float(np.mean(changes)) if changes else None


def covered_share(boxes: Sequence[Box], frame_w: int, frame_h: int) -> float:
    """Return the share of the frame the boxes' bounding union covers (0..1)."""
    if not boxes:
        return 0.0
    x1 = min(b[0] for b in boxes)
    y1 = min(b[1] for b in boxes)
    x2 = max(b[2] for b in boxes)
    y2 = max(b[3] for b in boxes)
    return max(x2 - x1, 0.0) * max(y2 - y1, 0.0) / max(frame_w * frame_h, 1)


def growth(shares: Sequence[float]) -> float | None:
    """Return how much a region grew over a run of sightings: late third over early third."""
    if len(shares) < 3:
        return None
    third = max(len(shares) // 3, 1)
    early = float(np.mean(shares[:third]))
    late = float(np.mean(shares[-third:]))
    return late / early if early > 0 else None
