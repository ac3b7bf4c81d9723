"""QR decoding from real photos: codes anywhere in the frame, none where there is none."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from station.tokens import TokenSigner, new_private_key
from tests.edge.entry.station import load_image, qr_frame
from vision.qr import QrReader


def test_codes_are_read_wherever_they_are_and_photos_without_one_give_none(
    media_dir: Path,
) -> None:
    reader = QrReader()
    signer = TokenSigner(new_private_key())
    photo = media_dir / "people" / "bus.jpg"
    assert reader.read(load_image(photo)) is None
    assert reader.read(load_image(media_dir / "people" / "zidane.jpg")) is None
    for at in ((0, 0), (400, 200), (700, 500), (800, 530)):
        token, _ = signer.issue("m-1", ["st-1"], datetime.now(UTC))
        frame = qr_frame(token, photo, at)
        assert reader.read(frame) == token, at
        grey = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        assert reader.read(grey) == token
