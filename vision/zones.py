"""Zones: named polygons in normalised frame coordinates, so they survive resolution changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from vision.detector import Detection

Point = tuple[float, float]


@dataclass(frozen=True)
class Zone:
    """A named polygon; each vertex is (x, y) with 0..1 as a fraction of frame width/height."""

    name: str
    polygon: tuple[Point, ...]
    _contour: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate the polygon and prepare it for point tests."""
        if len(self.polygon) < 3:
            raise ValueError(f"zone {self.name!r} needs at least 3 points, got {len(self.polygon)}")
        for x, y in self.polygon:
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"zone {self.name!r} point ({x}, {y}) is outside 0..1")
        contour = np.array(self.polygon, dtype=np.float32).reshape(-1, 1, 2)
        object.__setattr__(self, "_contour", contour)

    @classmethod
    def from_points(cls, name: str, points: Iterable[Sequence[float]]) -> Zone:
        """Build a zone from any sequence of [x, y] pairs (as read from YAML)."""
        return cls(name, tuple((float(p[0]), float(p[1])) for p in points))

    @classmethod
    def whole_frame(cls, name: str = "") -> Zone:
        """Return a zone that covers the whole frame."""
        return cls(name, ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))

    def contains_point(self, x: float, y: float) -> bool:
        """Return whether a normalised point is inside the polygon or on its edge."""
        return cv2.pointPolygonTest(self._contour, (float(x), float(y)), False) >= 0

    def contains(self, detection: Detection, frame_w: int, frame_h: int) -> bool:
        """Return whether a detection stands in the zone, judged by its box's bottom centre."""
        # Feet, not the box centre: a tall person near a doorway stands where the feet are.
        x, y = detection.bottom_centre
        # Boxes may overshoot the frame by a pixel or two; clamp so edge zones still match.
        nx = min(max(x / frame_w, 0.0), 1.0)
        ny = min(max(y / frame_h, 0.0), 1.0)
        return self.contains_point(nx, ny)

    def select(
        self, detections: Iterable[Detection], frame_w: int, frame_h: int
    ) -> list[Detection]:
        """Return the detections that stand in the zone."""
        return [d for d in detections if self.contains(d, frame_w, frame_h)]


@dataclass(frozen=True)
class DoorLine:
    """A line from `a` to `b` (normalised); walking onto its left side (seen on screen) enters."""

    name: str
    a: Point
    b: Point

    def __post_init__(self) -> None:
        """Reject a line of zero length, which has no sides."""
        if self.a == self.b:
            raise ValueError(f"door line {self.name!r} needs two distinct points")

    def side(self, x: float, y: float) -> int:
        """Return +1 on the inside (left of a->b in image coordinates), -1 outside, 0 on it."""
        (ax, ay), (bx, by) = self.a, self.b
        # Image y grows downwards, so "left" of a->b is where this cross product is negative.
        cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax)
        if abs(cross) < 1e-9:
            return 0
        return 1 if cross < 0 else -1


def in_any(zones: Sequence[Zone], x: float, y: float) -> bool:
    """Return whether a normalised point lies in any of the zones."""
    return any(zone.contains_point(x, y) for zone in zones)
