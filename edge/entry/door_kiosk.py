"""What starts face enrolment at the door: the member's enrolment code, the agree button,
and frames from the door camera, driving the EnrolmentKiosk.

The member's phone page offers "登记人脸", which shows a signed enrolment code (`UWE1`, never
an entry token: it opens no door). When the door camera (or the scanner) reads one, the
kiosk checks it and shows the zh-CN face consent text on the door screen. Pressing the
door's agree button is the member's consent; the next frames with exactly one face are
enrolled. No press within the reading time declines: nothing is measured or kept. While an
enrolment runs, entry by code still works, but face entry waits: the face in front of the
camera is the one being enrolled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from edge.devices.model import DeviceChange
from edge.entry.controller import Clock
from edge.entry.faces import DoorScreen
from edge.entry.kiosk import EnrolmentKiosk, PendingEnrolment
from edge.errors import EnrolmentError
from station.tokens import ENROL_PREFIX
from vision.qr import Frame

log = logging.getLogger(__name__)

AGREE_ENTITY: Final = "agree"
LOOK: Final = "已同意。请正对摄像头，保持不动，正在登记人脸"
FAILED: Final = "人脸登记未完成，请稍后重试；您仍可扫码或刷卡进门"


class Phase(StrEnum):
    """Where an enrolment at the door stands."""

    IDLE = "idle"
    READING = "reading"  # consent text on screen, waiting for the agree button
    CAPTURING = "capturing"  # agreed: taking frames


@dataclass(frozen=True)
class KioskTimings:
    """How long the member has to read and agree, and to be captured; how many frames."""

    read_s: float = 120
    capture_s: float = 20
    frames: int = 3
    # Take every n-th usable frame, so the frames enrolled are not one frame repeated.
    frame_gap: int = 3
    repeat_ignore_s: float = 3


class DoorKiosk:
    """Enrolment at the door, started by an enrolment code and agreed with the door button."""

    def __init__(
        self,
        kiosk: EnrolmentKiosk,
        screen: DoorScreen,
        clock: Clock,
        timings: KioskTimings | None = None,
    ) -> None:
        """Drive `kiosk` from the door's codes, button and camera frames."""
        self._kiosk = kiosk
        self._screen = screen
        self._clock = clock
        self._timings = timings or KioskTimings()
        self._lock = threading.Lock()
        self._phase = Phase.IDLE
        self._pending: PendingEnrolment | None = None
        self._since: datetime | None = None
        self._frames: list[Frame] = []
        self._usable_seen = 0
        self._last_code: tuple[str, datetime] | None = None

    @property
    def phase(self) -> Phase:
        """Where the enrolment stands now."""
        return self._phase

    def offer(self, text: str) -> bool:
        """Take a code read at the door if it is an enrolment code (True); any other code is
        the controller's (False)."""
        if not text.startswith(ENROL_PREFIX + "."):
            return False
        now = self._clock()
        with self._lock:
            self._expire(now)
            # The camera sees a held-up code in many frames: one showing, one check.
            repeated = self._repeat(text, now)
            if self._phase is not Phase.IDLE or repeated:
                return True
            try:
                self._pending = self._kiosk.begin(text)
            except EnrolmentError as err:
                log.info("enrolment not started: %s", err)
                return True
            self._enter(Phase.READING, now)
        return True

    def agree(self) -> None:
        """The member pressed the agree button while reading the consent text."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if self._phase is not Phase.READING:
                return
            self._enter(Phase.CAPTURING, now)
        self._screen.show(LOOK)

    def on_frame(self, frame: Frame) -> bool:
        """Feed a door-camera frame; True while an enrolment holds the camera."""
        with self._lock:
            self._expire(self._clock())
            if self._phase is Phase.CAPTURING and self._kiosk.usable(frame):
                self._usable_seen += 1
                if (self._usable_seen - 1) % self._timings.frame_gap == 0:
                    self._frames.append(frame.copy())
                if len(self._frames) >= self._timings.frames:
                    self._finish()
            return self._phase is not Phase.IDLE

    def tick(self) -> None:
        """Decline or give up an enrolment whose time ran out (called about once a second)."""
        with self._lock:
            self._expire(self._clock())

    def _finish(self) -> None:
        pending = self._pending
        assert pending is not None
        frames = self._frames
        self._enter(Phase.IDLE, None)
        try:
            self._kiosk.accept(pending, frames)
        except EnrolmentError as err:
            log.warning("enrolment of %s failed: %s", pending.member_id, err)
            self._screen.show(FAILED)

    def _expire(self, now: datetime) -> None:
        if self._since is None or self._phase is Phase.IDLE:
            return
        limit = self._timings.read_s if self._phase is Phase.READING else self._timings.capture_s
        if now - self._since <= timedelta(seconds=limit):
            return
        pending = self._pending
        assert pending is not None
        if self._phase is Phase.READING:
            self._kiosk.decline(pending)  # no agreement given: nothing measured or kept
        else:
            log.info("enrolment of %s: no usable face in time", pending.member_id)
            self._screen.show(FAILED)
        self._enter(Phase.IDLE, None)

    def _enter(self, phase: Phase, now: datetime | None) -> None:
        self._phase = phase
        self._since = now
        self._frames = []
        self._usable_seen = 0
        if phase is Phase.IDLE:
            self._pending = None

    def _repeat(self, text: str, now: datetime) -> bool:
        last = self._last_code
        self._last_code = (text, now)
        window = timedelta(seconds=self._timings.repeat_ignore_s)
        return last is not None and last[0] == text and now - last[1] <= window


def agree_listener(kiosk: DoorKiosk, door_id: str) -> Callable[[DeviceChange], None]:
    """Return a registry listener that passes a press of the door's agree button on."""

    def listen(change: DeviceChange) -> None:
        # A retained press is a state from before, not the member agreeing now.
        if (
            change.device_id == door_id
            and change.entity == AGREE_ENTITY
            and change.value is True
            and not change.retained
        ):
            kiosk.agree()

    return listen
