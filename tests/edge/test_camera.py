"""Capture from real clips: latest frame, pacing modes, missing sources, clean stop."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.camera import Camera, Frame
from edge.config import CameraConfig


@pytest.fixture
def clip(media_dir: Path) -> str:
    return str(media_dir / "fall" / "fall.mp4")


@contextmanager
def running(config: CameraConfig) -> Iterator[Camera]:
    camera = Camera(config, backoff_max_s=0.5)
    camera.start()
    try:
        yield camera
    finally:
        camera.stop()


def read_n(camera: Camera, n: int, timeout_s: float = 20.0) -> list[Frame]:
    frames: list[Frame] = []
    last = -1
    deadline = time.monotonic() + timeout_s
    while len(frames) < n:
        assert time.monotonic() < deadline, f"only {len(frames)} frames arrived"
        frame = camera.read(after=last, timeout_s=1.0)
        if frame is not None:
            frames.append(frame)
            last = frame.index
    return frames


def test_realtime_file_gives_newest_frames_only(clip: str) -> None:
    config = CameraConfig(id="cam1", source=clip, realtime=True, max_fps=10)
    with running(config) as camera:
        frames = read_n(camera, 5)
        assert frames[0].image.shape == (360, 640, 3)
        assert (frames[0].width, frames[0].height) == (640, 360)
        assert [f.index for f in frames] == sorted({f.index for f in frames})
        time.sleep(1.0)  # a slow consumer...
        newest = camera.read(after=frames[-1].index)
        # ...gets the newest frame, not the next one in a backlog.
        assert newest is not None
        assert newest.index > frames[-1].index + 1
        stats = camera.stats()
        assert stats.connected
        assert stats.camera_id == "cam1"
        assert stats.reconnects == 0


def test_lossless_file_gives_every_frame_in_video_time(clip: str) -> None:
    config = CameraConfig(source=clip, realtime=False, loop=False, max_fps=120)
    with running(config) as camera:
        frames = read_n(camera, 30)
        assert [f.index for f in frames] == list(range(30))
        step = (frames[1].ts - frames[0].ts).total_seconds()
        assert step == pytest.approx(1 / 23.98, rel=0.01)


def test_lossless_file_keeps_max_fps_in_video_time(clip: str) -> None:
    config = CameraConfig(source=clip, realtime=False, loop=False, max_fps=4)
    with running(config) as camera:
        frames = read_n(camera, 8)
        steps = {round((b.ts - a.ts).total_seconds(), 3) for a, b in itertools.pairwise(frames)}
        assert steps == {round(6 / 23.98, 3)}
        assert [f.index for f in frames] == list(range(8))


def test_a_file_without_loop_ends_and_disconnects(media_dir: Path) -> None:
    config = CameraConfig(
        source=str(media_dir / "fall" / "fall.mp4"), realtime=False, loop=False, max_fps=120
    )
    with running(config) as camera:
        frames = read_n(camera, 272, timeout_s=60)
        assert frames[-1].index == 271
        assert camera.read(after=271, timeout_s=1.0) is None
        assert not camera.stats().connected


def test_missing_source_retries_without_crashing(tmp_path: Path) -> None:
    config = CameraConfig(source=str(tmp_path / "absent.mp4"))
    with running(config) as camera:
        assert camera.read(timeout_s=2.0) is None
        stats = camera.stats()
        assert not stats.connected
        assert stats.reconnects >= 1
