"""Active liveness: a challenge chosen at random per attempt (turn the head left or right,
blink twice), checked from face landmarks within a time limit.

Blink liveness stops a photo but not a phone video of the member blinking. A challenge
drawn only when the attempt starts, and answered only by movement after it was shown, is
one a recording made before cannot know: it answers at best by chance (a turn the wrong
way, or none, fails). Pure logic: the caller gives each sample's time and measurements.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final


class ChallengeKind(StrEnum):
    """What the door asks the person to do."""

    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    BLINK_TWICE = "blink_twice"


PROMPTS: Final[dict[ChallengeKind, str]] = {
    ChallengeKind.TURN_LEFT: "请看向屏幕，然后慢慢向左转头",
    ChallengeKind.TURN_RIGHT: "请看向屏幕，然后慢慢向右转头",
    ChallengeKind.BLINK_TWICE: "请看向屏幕，连续眨眼两次",
}
"""What the door screen shows for each challenge (zh-CN)."""


class Outcome(StrEnum):
    """Where an attempt stands."""

    PENDING = "pending"
    PASSED = "passed"
    TIMEOUT = "timeout"
    WRONG_MOVE = "wrong_move"


@dataclass(frozen=True)
class FaceSample:
    """One frame's measurements of the face: head turn and eye openness."""

    at: datetime
    yaw: float
    ear: float


@dataclass(frozen=True)
class ChallengeRules:
    """Thresholds and the time limit of a challenge."""

    time_limit_s: float = 5.0
    frontal_yaw: float = 0.12
    turned_yaw: float = 0.3
    hold_s: float = 0.25
    eyes_closed: float = 0.2
    eyes_open: float = 0.26


def yaw_of(landmarks: Sequence[tuple[float, float]]) -> float:
    """Head turn from YuNet's five landmarks (right eye, left eye, nose, mouth corners):
    the nose's offset from between the eyes, in eye distances; 0 facing the camera,
    positive when the person turns to their left (the nose moves to the image's right)."""
    (rx, _), (lx, _), (nx, _) = landmarks[0], landmarks[1], landmarks[2]
    distance = abs(lx - rx)
    if distance < 1e-6:
        return 0.0
    return (nx - (rx + lx) / 2) / distance


def choose(rng: random.Random | None = None) -> ChallengeKind:
    """Draw a challenge; unpredictable unless the caller passes its own generator."""
    return (rng or secrets.SystemRandom()).choice(list(ChallengeKind))


@dataclass
class Challenge:
    """One attempt: the challenge shown at `shown_at`, fed samples until it is decided."""

    kind: ChallengeKind
    shown_at: datetime
    rules: ChallengeRules = field(default_factory=ChallengeRules)
    outcome: Outcome = Outcome.PENDING
    _frontal_seen: bool = False
    _turned_since: datetime | None = None
    _blinks: int = 0
    _eyes_shut: bool = False

    @property
    def prompt(self) -> str:
        """The text for the door screen."""
        return PROMPTS[self.kind]

    def add(self, sample: FaceSample) -> Outcome:
        """Take one sample; return the outcome so far (decided outcomes stay as they are)."""
        if self.outcome is not Outcome.PENDING:
            return self.outcome
        if sample.at < self.shown_at:
            return self.outcome  # movement from before the prompt answers nothing
        if sample.at - self.shown_at > timedelta(seconds=self.rules.time_limit_s):
            self.outcome = Outcome.TIMEOUT
            return self.outcome
        if self.kind is ChallengeKind.BLINK_TWICE:
            self._blink(sample)
        else:
            self._turn(sample)
        return self.outcome

    def expire(self, now: datetime) -> Outcome:
        """Time out a pending challenge once its limit has passed (no face, no samples)."""
        limit = timedelta(seconds=self.rules.time_limit_s)
        if self.outcome is Outcome.PENDING and now - self.shown_at > limit:
            self.outcome = Outcome.TIMEOUT
        return self.outcome

    def _turn(self, sample: FaceSample) -> None:
        rules = self.rules
        wanted = 1.0 if self.kind is ChallengeKind.TURN_LEFT else -1.0
        if abs(sample.yaw) <= rules.frontal_yaw:
            self._frontal_seen = True
            self._turned_since = None
            return
        if not self._frontal_seen or abs(sample.yaw) < rules.turned_yaw:
            self._turned_since = None
            return
        if sample.yaw * wanted < 0:
            self.outcome = Outcome.WRONG_MOVE
            return
        self._turned_since = self._turned_since or sample.at
        if sample.at - self._turned_since >= timedelta(seconds=rules.hold_s):
            self.outcome = Outcome.PASSED

    def _blink(self, sample: FaceSample) -> None:
        rules = self.rules
        if abs(sample.yaw) >= rules.turned_yaw:
            self.outcome = Outcome.WRONG_MOVE
            return
        if not self._eyes_shut and sample.ear <= rules.eyes_closed and self._frontal_seen:
            self._eyes_shut = True
        elif self._eyes_shut and sample.ear >= rules.eyes_open:
            self._eyes_shut = False
            self._blinks += 1
            if self._blinks >= 2:
                self.outcome = Outcome.PASSED
        if sample.ear >= rules.eyes_open:
            self._frontal_seen = True  # eyes seen open first: a closed start is no blink
