"""The active liveness challenge as pure logic: a fixed clock and landmark sequences."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from vision.challenge import (
    PROMPTS,
    Challenge,
    ChallengeKind,
    FaceSample,
    Outcome,
    choose,
    yaw_of,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OPEN, SHUT = 0.32, 0.12


def run(kind: ChallengeKind, script: list[tuple[float, float, float]]) -> Outcome:
    """Feed (seconds after the prompt, yaw, eye ratio) samples; expire at the end."""
    challenge = Challenge(kind, T0)
    for seconds, yaw, ear in script:
        challenge.add(FaceSample(T0 + timedelta(seconds=seconds), yaw, ear))
    last = script[-1][0] if script else 0.0
    return challenge.expire(T0 + timedelta(seconds=max(last, 6)))


def frames(
    start: float, stop: float, yaw: float, ear: float = OPEN
) -> list[tuple[float, float, float]]:
    """Samples every 0.1 s from `start` to `stop` seconds."""
    count = round((stop - start) / 0.1)
    return [(start + i * 0.1, yaw, ear) for i in range(count)]


def test_a_turn_the_way_asked_held_briefly_passes() -> None:
    assert run(ChallengeKind.TURN_LEFT, frames(0, 1, 0.0) + frames(1, 1.5, 0.45)) is Outcome.PASSED
    assert (
        run(ChallengeKind.TURN_RIGHT, frames(0, 1, 0.05) + frames(1, 1.5, -0.4)) is Outcome.PASSED
    )


def test_the_wrong_way_no_turn_or_a_start_already_turned_fails() -> None:
    wrong = frames(0, 1, 0.0) + frames(1, 1.5, -0.45)
    assert run(ChallengeKind.TURN_LEFT, wrong) is Outcome.WRONG_MOVE
    assert run(ChallengeKind.TURN_LEFT, frames(0, 5.5, 0.02)) is Outcome.TIMEOUT
    # A recording that opens turned and stays turned never showed the face first.
    assert run(ChallengeKind.TURN_LEFT, frames(0, 5.5, 0.5)) is Outcome.TIMEOUT
    # A flick of the head shorter than the hold time is no answer.
    flick = frames(0, 1, 0.0) + frames(1, 1.1, 0.5) + frames(1.1, 5.5, 0.0)
    assert run(ChallengeKind.TURN_LEFT, flick) is Outcome.TIMEOUT


def test_two_blinks_pass_and_one_blink_or_a_turn_does_not() -> None:
    blink = frames(0, 0.3, 0.0) + frames(0.3, 0.4, 0.0, SHUT)
    twice = blink + [(t + 0.5, y, e) for t, y, e in blink] + frames(1.0, 1.2, 0.0)
    assert run(ChallengeKind.BLINK_TWICE, twice) is Outcome.PASSED
    assert run(ChallengeKind.BLINK_TWICE, blink + frames(0.4, 5.5, 0.0)) is Outcome.TIMEOUT
    turned = frames(0, 0.5, 0.0) + frames(0.5, 0.7, 0.45) + [(t + 1, y, e) for t, y, e in twice]
    assert run(ChallengeKind.BLINK_TWICE, turned) is Outcome.WRONG_MOVE
    # Eyes shut from the start (a closed-eyed photo) then open is not a blink.
    assert run(ChallengeKind.BLINK_TWICE, frames(0, 1, 0.0, SHUT) + frames(1, 5.5, 0.0)) is (
        Outcome.TIMEOUT
    )


def test_movement_before_the_prompt_or_after_the_limit_answers_nothing() -> None:
    before = [(-1.0 + i * 0.1, 0.0, OPEN) for i in range(5)] + [
        (-0.5 + i * 0.1, 0.5, OPEN) for i in range(5)
    ]
    assert run(ChallengeKind.TURN_LEFT, before) is Outcome.TIMEOUT
    late = frames(0, 0.5, 0.0) + frames(5.2, 5.8, 0.5)
    assert run(ChallengeKind.TURN_LEFT, late) is Outcome.TIMEOUT
    challenge = Challenge(ChallengeKind.TURN_LEFT, T0)
    assert challenge.expire(T0 + timedelta(seconds=4)) is Outcome.PENDING
    assert challenge.expire(T0 + timedelta(seconds=5.1)) is Outcome.TIMEOUT


def test_decided_outcomes_stay_decided() -> None:
    challenge = Challenge(ChallengeKind.TURN_RIGHT, T0)
    for t, yaw, ear in frames(0, 0.5, 0.0) + frames(0.5, 0.7, 0.45):
        challenge.add(FaceSample(T0 + timedelta(seconds=t), yaw, ear))
    assert challenge.outcome is Outcome.WRONG_MOVE
    for t, yaw, ear in frames(1, 2, -0.45):
        assert challenge.add(FaceSample(T0 + timedelta(seconds=t), yaw, ear)) is Outcome.WRONG_MOVE


@pytest.mark.parametrize(("nose_x", "expected"), [(100.0, 0.0), (115.0, 0.375), (88.0, -0.3)])
def test_yaw_from_five_landmarks(nose_x: float, expected: float) -> None:
    landmarks = [(80.0, 100.0), (120.0, 100.0), (nose_x, 120.0), (85.0, 140.0), (115.0, 140.0)]
    assert yaw_of(landmarks) == pytest.approx(expected)
    # A flat photo turned on its vertical axis shrinks every x alike: it does not look turned.
    squeezed = [(100 + (x - 100) * 0.6, y) for x, y in landmarks]
    assert yaw_of(squeezed) == pytest.approx(expected)


def test_every_challenge_is_drawn_and_has_a_chinese_prompt() -> None:
    drawn = Counter(choose(random.Random(seed)) for seed in range(300))
    assert set(drawn) == set(ChallengeKind)
    assert min(drawn.values()) > 60  # about a third each
    assert all("请" in PROMPTS[kind] for kind in ChallengeKind)
    assert choose() in ChallengeKind
