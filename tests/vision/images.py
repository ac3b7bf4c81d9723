"""Reading test images with a clear failure instead of a None."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def read_image(path: str | Path) -> np.ndarray:
    """Return the BGR image at `path`; fail the test when it cannot be read."""
    image = cv2.imread(str(path))
    assert image is not None, f"cannot read {path}"
    return image
