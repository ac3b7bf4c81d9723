"""QR codes from camera frames with OpenCV's detector."""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]

MAX_TEXT_CHARS: Final = 1024
_MARGIN_PX: Final = 40


class QrReader:
    """Finds and decodes one QR code per frame; not thread-safe (one per camera).

    OpenCV's ArUco-based QR detector on the grey image: on photos with a pasted code it
    found every code the classic detector found and more, in about a third of the time.
    It looks for the code in a frame shrunk to `search_side` pixels, then decodes only the
    region around it at full resolution, where the modules are sharpest.
    """

    def __init__(self, search_side: int = 640) -> None:
        self._detector = cv2.QRCodeDetectorAruco()
        self._search_side = search_side

    def read(self, frame: Frame) -> str | None:
        """Return the text of the QR code in the frame, or None when there is none."""
        grey = np.asarray(
            frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8
        )
        region = self._locate(grey)
        text, points = "", None
        if region is not None:
            text, points, _ = self._detector.detectAndDecode(region)
        if points is None or not text:
            # The small frame misses small codes, and a crop can clip one: whole frame then.
            text, points, _ = self._detector.detectAndDecode(grey)
        if points is None or not text:
            return None
        # Oversized text is not ours: entry tokens are a few hundred characters.
        return str(text)[:MAX_TEXT_CHARS]

    def _locate(self, grey: Frame) -> Frame | None:
        """Return the full-resolution region holding a code, or None when there is none."""
        height, width = grey.shape[:2]
        factor = min(1.0, self._search_side / max(height, width))
        small = grey
        if factor < 1.0:
            small = np.asarray(
                cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA),
                dtype=np.uint8,
            )
        found, points = self._detector.detect(small)
        if not found or points is None:
            return None
        corners = np.asarray(points, dtype=np.float64).reshape(-1, 2) / factor
        x0, y0 = np.maximum(corners.min(axis=0) - _MARGIN_PX, 0).astype(int)
        x1, y1 = (corners.max(axis=0) + _MARGIN_PX).astype(int)
        return np.ascontiguousarray(grey[y0 : min(y1, height), x0 : min(x1, width)])
