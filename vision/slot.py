"""A detector that can be replaced while frames flow: the new model is loaded beside the old
one (on another thread) and swapped in between two batches, so no frame goes unanalysed."""

from __future__ import annotations

import threading

import numpy as np

from vision.detector import Detection, Detector


class DetectorSlot:
    """Holds the detector in use; `swap` replaces it atomically and returns the old one."""

    def __init__(self, detector: Detector) -> None:
        """Start with `detector`."""
        self._current = detector
        self._last_ms = 0.0
        self._swap_lock = threading.Lock()

    @property
    def current(self) -> Detector:
        """The detector the next batch goes to."""
        return self._current

    def swap(self, detector: Detector) -> Detector:
        """Make `detector` serve the next batch; a batch running now finishes on the old one."""
        with self._swap_lock:
            old, self._current = self._current, detector
        return old

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """Detect with the current detector; one batch never spans two models."""
        detector = self._current  # read once: a swap during the call affects the next batch
        found = detector.detect(frames)
        self._last_ms = detector.last_inference_ms
        return found

    @property
    def last_inference_ms(self) -> float:
        """Wall time of the last batch, whichever model ran it."""
        return self._last_ms
