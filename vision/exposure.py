"""Dark frames brightened before a model sees them.

A camera in a dim room, or at night without infrared, under-exposes everything: the fire
model then sees a flame as a dull orange smear and scores it below its threshold. Scaling
the frame so that its brightest pixels are bright again gives the model back what it was
trained on; a frame that is already bright somewhere is left exactly as it is.
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

# The brightness measure is taken on a thumbnail this wide: cheap, and as good for a percentile.
_PROBE_W = 160
# The share of pixels allowed to be brighter than the measured level (sparks, a lamp).
_TOP_PERCENT = 99.5


class DarkLift(BaseModel):
    """When and how much a dark frame is brightened before detection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    below: float = Field(
        default=128.0,
        ge=0,
        le=255,
        description="A frame whose brightest 0.5 % of pixels stay below this grey level "
        "(0..255) is dark and is brightened; 0 never brightens.",
    )
    target: float = Field(
        default=230.0, gt=0, le=255, description="Grey level the brightest 0.5 % are lifted to."
    )
    max_gain: float = Field(
        default=4.0, ge=1, le=16, description="Largest brightening factor (noise grows with it)."
    )


def bright_level(frame: np.ndarray) -> float:
    """Return the grey level below which 99.5 % of a BGR (or grey) frame's pixels lie."""
    h, w = frame.shape[:2]
    if w > _PROBE_W:
        size = (_PROBE_W, max(round(h * _PROBE_W / w), 1))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    return float(np.percentile(grey, _TOP_PERCENT))


def lift_dark(frame: np.ndarray, lift: DarkLift) -> np.ndarray:
    """Return the frame brightened when it is dark, else the same array unchanged."""
    if lift.below <= 0:
        return frame
    level = bright_level(frame)
    if level >= lift.below:
        return frame
    gain = min(lift.target / max(level, 1.0), lift.max_gain)
    return cv2.convertScaleAbs(frame, alpha=gain)
