"""Video capture from a file, an RTSP (or other) URL, or a USB camera, on its own thread.

The consumer always gets the newest frame: a slow model never works through a backlog of stale
frames. Live sources are read continuously (so the decoder's buffer never goes stale) but only
decoded into images at most `max_fps` times a second. A lost stream is reopened with backoff.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Final

import cv2
import numpy as np

from edge.config import CameraConfig
from station.contracts import utcnow

log = logging.getLogger(__name__)

_BACKOFF_START_S: Final = 0.5
_DEFAULT_FPS: Final = 25.0
_STREAM_TIMEOUT_MS: Final = 5000


@dataclass(frozen=True)
class Frame:
    """One captured image (BGR) with its sequence number and capture time."""

    image: np.ndarray
    index: int
    ts: datetime

    @property
    def width(self) -> int:
        """Return the frame width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Return the frame height in pixels."""
        return int(self.image.shape[0])


@dataclass(frozen=True)
class CameraStats:
    """What the camera thread has done so far."""

    camera_id: str
    connected: bool
    reconnects: int
    frames: int
    last_frame_age_s: float | None = None


class _Ended(Enum):
    """Why a capture session ended."""

    BROKEN = "broken"
    FINISHED = "finished"
    STOPPED = "stopped"


class Camera:
    """Reads one source on a background thread and keeps only the newest frame."""

    def __init__(self, config: CameraConfig, backoff_max_s: float = 30.0) -> None:
        """Prepare the camera; nothing is opened before start()."""
        self.config = config
        self.camera_id = config.id
        self._backoff_max_s = backoff_max_s
        self._min_gap_s = 1.0 / config.max_fps
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._frame: Frame | None = None
        self._taken = -1
        self._count = 0
        self._last_frame_at: float | None = None
        self._connected = False
        self._reconnects = 0
        self._thread: threading.Thread | None = None

    # -- consumer side ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the capture thread."""
        # A daemon: a read stuck in the driver (a USB camera gone, a stalled stream) must not
        # keep the process alive once the node has stopped waiting for it.
        self._thread = threading.Thread(
            target=self._run, name=f"camera-{self.camera_id}", daemon=True
        )
        self._thread.start()

    def request_stop(self) -> None:
        """Tell the capture thread to stop, without waiting for it."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the capture thread and release the source, waiting up to `timeout_s`."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("camera %s: capture thread did not stop in time", self.camera_id)

    def read(self, after: int = -1, timeout_s: float = 1.0, *, take: bool = True) -> Frame | None:
        """Return the newest frame with an index above `after`, waiting up to `timeout_s`.

        `take=False` looks without taking: a file played frame by frame waits for the analysis
        to take each frame, never for a second reader such as the door watch.
        """
        with self._cond:
            fresh = self._cond.wait_for(
                lambda: (
                    self._stop.is_set() or (self._frame is not None and self._frame.index > after)
                ),
                timeout_s,
            )
            frame = self._frame
            if not fresh or frame is None or frame.index <= after:
                return None
            if take:
                self._taken = frame.index
                self._cond.notify_all()
            return frame

    def stats(self) -> CameraStats:
        """Return connection state and counters."""
        with self._cond:
            age = None if self._last_frame_at is None else time.monotonic() - self._last_frame_at
            return CameraStats(self.camera_id, self._connected, self._reconnects, self._count, age)

    # -- capture thread ---------------------------------------------------------------------

    def _run(self) -> None:
        delay = _BACKOFF_START_S
        attempts = 0
        while not self._stop.is_set():
            if attempts:
                with self._cond:
                    self._reconnects += 1
            attempts += 1
            capture = self._open()
            if capture is None:
                log.warning(
                    "camera %s: cannot open %s; retrying in %.1f s",
                    self.camera_id,
                    self._describe_source(),
                    delay,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff_max_s)
                continue
            self._set_connected(True)
            try:
                ended = self._pump(capture)
            finally:
                capture.release()
                self._set_connected(False)
            if ended is not _Ended.BROKEN:
                break
            if self._count:
                delay = _BACKOFF_START_S  # it worked for a while: retry quickly first
            log.warning("camera %s: stream lost; reopening in %.1f s", self.camera_id, delay)
            self._stop.wait(delay)
            delay = min(delay * 2, self._backoff_max_s)
        log.info("camera %s: capture stopped", self.camera_id)

    def _describe_source(self) -> str:
        source = self.config.source
        if isinstance(source, int):
            return f"USB camera {source}"
        # URLs may carry credentials (rtsp://user:pass@host): never log them.
        if "@" in source and "://" in source:
            scheme, rest = source.split("://", 1)
            return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
        return source

    def _open(self) -> Any | None:
        source = self.config.source
        if isinstance(source, int) or self.config.is_file:
            capture = cv2.VideoCapture(source)
        else:
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                _STREAM_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                _STREAM_TIMEOUT_MS,
            ]
            capture = cv2.VideoCapture(source, cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            return None
        return capture

    def _set_connected(self, value: bool) -> None:
        with self._cond:
            self._connected = value

    def _pump(self, capture: Any) -> _Ended:
        """Read frames until the stream breaks, a file ends (no loop) or stop is asked."""
        if self.config.is_file and not self.config.realtime:
            return self._pump_lossless(capture)
        paced = self.config.is_file
        period = 1.0 / _native_fps(capture)
        started = time.monotonic()
        grabbed = 0
        last_emit = -math.inf
        while not self._stop.is_set():
            if paced:
                # Play at the file's own speed, like a live camera would deliver it.
                self._stop.wait(max(0.0, started + grabbed * period - time.monotonic()))
            if not capture.grab():
                if paced and self.config.loop and grabbed:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    started, grabbed = time.monotonic(), 0
                    continue
                return _Ended.FINISHED if paced else _Ended.BROKEN
            grabbed += 1
            now = time.monotonic()
            if now - last_emit < self._min_gap_s:
                continue  # grabbed to keep up, not decoded: nobody would look at it
            ok, image = capture.retrieve()
            if ok:
                last_emit = now
                self._emit(image, utcnow())
        return _Ended.STOPPED

    def _pump_lossless(self, capture: Any) -> _Ended:
        """Deliver a file's frames, `max_fps` per video second, each once it is taken.

        Stamped in video time, so what is analysed does not depend on how busy the machine is.
        """
        period = timedelta(seconds=1.0 / _native_fps(capture))
        min_gap = timedelta(seconds=self._min_gap_s)
        origin = utcnow()
        position = 0
        last_emit: datetime | None = None
        while not self._stop.is_set():
            if not capture.grab():
                if self.config.loop and position:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    origin, position = origin + position * period, 0
                    continue
                return _Ended.FINISHED
            ts = origin + position * period
            position += 1
            # Half a frame of slack: 24 fps at max_fps 12 must give every second frame.
            if last_emit is not None and ts - last_emit < min_gap - period / 2:
                continue
            ok, image = capture.retrieve()
            if ok:
                last_emit = ts
                self._wait_taken(self._emit(image, ts))
        return _Ended.STOPPED

    def _wait_taken(self, index: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._stop.is_set() or self._taken >= index)

    def _emit(self, image: np.ndarray, ts: datetime) -> int:
        with self._cond:
            index = self._count
            self._frame = Frame(image, index, ts)
            self._count += 1
            self._last_frame_at = time.monotonic()
            self._cond.notify_all()
        return index


def _native_fps(capture: Any) -> float:
    """Return the source's frame rate, or a default when the container does not say."""
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    if not math.isfinite(fps) or fps <= 0 or fps > 240:
        return _DEFAULT_FPS
    return fps
