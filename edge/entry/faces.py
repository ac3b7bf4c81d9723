"""Face entry at the door camera: match in several frames, then an active challenge drawn at
random for this attempt (turn the head left or right, blink twice), shown on the door screen
in Chinese and answered within a time limit, then ask entry.

A photo cannot move and a recording made before cannot know which challenge this attempt
drew; a refusal goes to the controller with its reason (`challenge <kind>: <outcome>`),
which audits it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final, Protocol

from edge.devices.model import command_topic
from edge.entry.controller import Clock, Decision, EntryController
from edge.entry.gallery import FaceGallery
from vision.challenge import (
    Challenge,
    ChallengeKind,
    ChallengeRules,
    FaceSample,
    Outcome,
    choose,
    yaw_of,
)
from vision.faces import Agreement, FaceBox, FaceEngine
from vision.qr import Frame

SCREEN_ENTITY: Final = "screen"
WELCOME: Final = "验证通过，请进"
REFUSED: Final = "验证未通过，请重新站到摄像头前再试"
# Faces smaller than this are too far for the landmarks to be trusted (eyes of a few pixels).
MIN_FACE_PX: Final = 60


class DoorScreen(Protocol):
    """The screen beside the door camera."""

    def show(self, text: str) -> None:
        """Show a line of text (zh-CN) to the person at the door."""


class StationScreen:
    """The door's screen as an entity of the door controller on the station broker: text
    on `<root>/<door>/screen/command` (an ESPHome display shows it)."""

    def __init__(self, send: Callable[[str, str], None], door_id: str) -> None:
        """Send through the station devices' link, to the door controller `door_id`."""
        self._send = send
        self._topic = command_topic(door_id, SCREEN_ENTITY)

    def show(self, text: str) -> None:
        """Send the text to the screen (never retained: an old prompt must not come back)."""
        self._send(self._topic, text)


class FaceGate:
    """Feeds door-camera frames through match, agreement and a challenge to the controller."""

    def __init__(
        self,
        engine: FaceEngine,
        gallery: FaceGallery,
        controller: EntryController,
        screen: DoorScreen,
        clock: Clock,
        frames: int = 3,
        rules: ChallengeRules | None = None,
        draw: Callable[[], ChallengeKind] = choose,
    ) -> None:
        """Challenge after `frames` agreeing matches; `draw` picks each attempt's challenge."""
        self._engine = engine
        self._gallery = gallery
        self._controller = controller
        self._screen = screen
        self._clock = clock
        self._frames = frames
        self._rules = rules or ChallengeRules()
        self._draw = draw
        self._agreement = Agreement(frames)
        self._unmatched_frames = 0
        self._challenge: Challenge | None = None
        self._member: str | None = None

    def on_frame(self, frame: Frame) -> Decision | None:
        """Process one frame; return the controller's decision when one was made."""
        now = self._clock()
        boxes = self._engine.detect(frame)
        if not boxes:
            return self._no_face(now)
        box = boxes[0]
        if self._challenge is not None:
            return self._answer(frame, box, now)
        match = self._gallery.match(self._engine.describe(frame, box))
        agreed = self._agreement.add(match.member_id if match else None)
        if match is None:
            self._unmatched_frames += 1
            if self._unmatched_frames >= self._frames:
                self.reset()
                return self._controller.present_face(None, "unmatched")
            return None
        self._unmatched_frames = 0
        if agreed is not None:
            self._start(agreed, now)
        return None

    def reset(self) -> None:
        """Forget the face in front of the camera and any challenge under way."""
        self._agreement.reset()
        self._unmatched_frames = 0
        self._challenge = None
        self._member = None

    def _start(self, member_id: str, now: datetime) -> None:
        self._member = member_id
        self._challenge = Challenge(self._draw(), now, self._rules)
        self._screen.show(self._challenge.prompt)

    def _answer(self, frame: Frame, box: FaceBox, now: datetime) -> Decision | None:
        challenge = self._challenge
        assert challenge is not None
        # Only the matched member's own face answers: a photo matched first, then someone
        # else's head turning, would otherwise pass. (A flat photo turned on its axis keeps
        # its nose-to-eyes ratio: it does not look turned.)
        if min(box.w, box.h) >= MIN_FACE_PX and self._is_member(frame, box):
            sample = FaceSample(now, yaw_of(box.landmarks), self._engine.eyes(frame, box))
            challenge.add(sample)
        else:
            challenge.expire(now)
        return self._decide(challenge)

    def _is_member(self, frame: Frame, box: FaceBox) -> bool:
        match = self._gallery.match(self._engine.describe(frame, box))
        return match is not None and match.member_id == self._member

    def _no_face(self, now: datetime) -> Decision | None:
        if self._challenge is None:
            self.reset()
            return None
        self._challenge.expire(now)
        return self._decide(self._challenge)

    def _decide(self, challenge: Challenge) -> Decision | None:
        """Hand a decided challenge to the controller (which audits a refusal)."""
        if challenge.outcome is Outcome.PENDING:
            return None
        member = self._member
        assert member is not None
        self.reset()
        if challenge.outcome is Outcome.PASSED:
            self._screen.show(WELCOME)
            return self._controller.present_face(member, member)
        self._screen.show(REFUSED)
        reason = f"challenge {challenge.kind.value}: {challenge.outcome.value}"
        return self._controller.present_face(member, member, reason)
