"""Dark frames are brightened before detection; bright ones are left exactly as they are."""

from __future__ import annotations

import numpy as np

from vision.exposure import DarkLift, bright_level, lift_dark


def test_a_dark_frame_is_brightened_to_the_target() -> None:
    frame = np.full((360, 640, 3), 10, dtype=np.uint8)
    frame[100:160, 300:360] = 60  # a dim flame in a dark room
    lifted = lift_dark(frame, DarkLift(below=128, target=240, max_gain=8))
    assert bright_level(frame) == 60
    assert lifted[120, 320].tolist() == [240, 240, 240]
    assert lifted[0, 0].tolist() == [40, 40, 40]


def test_the_gain_is_capped() -> None:
    frame = np.full((90, 160, 3), 20, dtype=np.uint8)
    lifted = lift_dark(frame, DarkLift(below=128, target=240, max_gain=4))
    assert int(lifted.max()) == 80


def test_a_bright_frame_or_a_disabled_lift_changes_nothing() -> None:
    frame = np.full((90, 160, 3), 20, dtype=np.uint8)
    frame[:10, :20] = 200  # a lamp or a window: the camera exposes for it
    assert lift_dark(frame, DarkLift()) is frame
    dark = np.full((90, 160, 3), 20, dtype=np.uint8)
    assert lift_dark(dark, DarkLift(below=0)) is dark
