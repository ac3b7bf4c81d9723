"""Body motion measured from a person's boxes over time: descent speed and stillness.

Pure geometry on (time, box) sightings; the fall logic decides what the numbers mean.
Everything is normalised by body size so that a person far from the camera, a few
pixels tall, moves as many body heights per second as one close to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from statistics import median

from vision.detector import Box


@dataclass(frozen=True)
class Sighting:
    """A person's box at a moment."""

    at: datetime
    box: Box

    @property
    def height(self) -> float:
        """Return the box height in pixels (at least 1)."""
        return max(self.box[3] - self.box[1], 1.0)

    @property
    def size(self) -> float:
        """Return the longer box side in pixels: the body length, standing or lying."""
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1], 1.0)


@dataclass(frozen=True)
class Descent:
    """How a person came down: drop in body heights, its speed and the time it took."""

    drop: float
    speed: float
    seconds: float
    turn: float = 0.0  # natural log of the aspect (width/height) change, per second


def descent_between(upright: Sighting, down: Sighting) -> Descent:
    """Measure the fall of the box top (or centre, if it fell further) from upright to down."""
    _, uy1, _, uy2 = upright.box
    _, dy1, _, dy2 = down.box
    top = dy1 - uy1
    # A person falling towards the camera keeps their head high in the image but their
    # whole box slides down; the centre catches that.
    centre = (dy1 + dy2) / 2.0 - (uy1 + uy2) / 2.0
    drop = max(top, centre) / upright.height
    seconds = max((down.at - upright.at).total_seconds(), 1e-3)
    # A body falling away from or towards the camera hardly drops in the image, but its
    # box turns from tall to wide within a second: the log of the aspect change catches it.
    turn = math.log(_aspect(down.box) / _aspect(upright.box)) / seconds
    return Descent(drop=drop, speed=drop / seconds, seconds=seconds, turn=turn)


def _aspect(box: Box) -> float:
    return max(box[2] - box[0], 1.0) / max(box[3] - box[1], 1.0)


def motion_rate(trail: Sequence[Sighting]) -> float | None:
    """Return the median box motion in body lengths per second over a trail; None if too short.

    Motion between two sightings is the shift of the box centre plus the change of its
    width and height, over the body length: a person lying still scores near 0 whatever
    the detector's jitter, one doing sit-ups or crawling scores well above.
    """
    if len(trail) < 3:
        return None
    rates = []
    for before, after in pairwise(trail):
        seconds = (after.at - before.at).total_seconds()
        if seconds <= 0:
            continue
        bx1, by1, bx2, by2 = before.box
        ax1, ay1, ax2, ay2 = after.box
        shift = abs((ax1 + ax2) - (bx1 + bx2)) / 2.0 + abs((ay1 + ay2) - (by1 + by2)) / 2.0
        reshape = abs((ax2 - ax1) - (bx2 - bx1)) + abs((ay2 - ay1) - (by2 - by1))
        rates.append((shift + reshape) / max(before.size, after.size) / seconds)
    return median(rates) if rates else None
