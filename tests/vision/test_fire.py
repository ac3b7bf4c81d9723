"""FireMonitor on scripted frames: majority window, flicker, sensors, clearing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.detector import Detection
from vision.events import Hazard, Phase, Severity
from vision.fire import FireMonitor, FireSettings, SensorReading, region_change
from vision.roles import Role

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
BOX = (200.0, 100.0, 300.0, 200.0)
STILL = np.full((360, 640, 3), 90, dtype=np.uint8)


def at(i: int) -> datetime:
    return T0 + timedelta(seconds=i * 0.25)


def flame(score: float = 0.8, role: Role = Role.FIRE) -> list[Detection]:
    return [Detection(role, role.value, score, BOX)]


def flickering(i: int) -> np.ndarray:
    """A frame whose box region changes brightness from frame to frame, like flames."""
    frame = STILL.copy()
    rng = np.random.default_rng(i)
    frame[100:200, 200:300] = rng.integers(60, 255, size=(100, 100, 3), dtype=np.uint8)
    return frame


def test_flickering_fire_in_most_frames_opens_one_event() -> None:
    mon = FireMonitor(FireSettings(window=20))
    events = []
    for i in range(40):
        seen = i % 4 != 0  # 3 frames in 4: a flame the model misses now and then
        events += mon.update(at(i), flame() if seen else [], flickering(i))
    assert [(e.kind, e.phase) for e in events] == [(Hazard.FIRE, Phase.NEW)]
    assert events[0].severity is Severity.WARNING


def test_static_red_object_is_not_a_fire() -> None:
    mon = FireMonitor(FireSettings(window=20))
    events = []
    for i in range(100):
        events += mon.update(at(i), flame(0.9), STILL)
    assert events == []


def test_fire_in_half_the_frames_or_fewer_is_not_enough() -> None:
    mon = FireMonitor(FireSettings(window=20))
    events = []
    for i in range(100):
        events += mon.update(at(i), flame() if i % 2 else [], flickering(i))
    assert events == []


def test_fire_gone_ends_the_event() -> None:
    mon = FireMonitor(FireSettings(window=20, clear_fraction=0.2))
    events = []
    for i in range(30):
        events += mon.update(at(i), flame(), flickering(i))
    for i in range(30, 60):
        events += mon.update(at(i), [], flickering(i))
    assert [e.phase for e in events] == [Phase.NEW, Phase.END]
    # Ends once fewer than 4 of the last 20 frames had fire: after 17 empty frames.
    assert events[1].at == at(30 + 16)


def test_smoke_is_its_own_event() -> None:
    mon = FireMonitor(FireSettings(window=10))
    events = []
    for i in range(20):
        events += mon.update(at(i), flame(role=Role.SMOKE), flickering(i))
    assert [(e.kind, e.phase) for e in events] == [(Hazard.SMOKE, Phase.NEW)]


def test_sensors_raise_the_severity_at_once() -> None:
    mon = FireMonitor(FireSettings(window=10, hot_c=50.0))
    events = []
    for i in range(15):
        events += mon.update(at(i), flame(), flickering(i), SensorReading(temperature_c=31.0))
    events += mon.update(at(15), flame(), flickering(15), SensorReading(smoke_alarm=True))
    assert [(e.phase, e.severity) for e in events] == [
        (Phase.NEW, Severity.WARNING),
        (Phase.UPDATE, Severity.CRITICAL),
    ]


def test_hot_reading_at_opening_makes_it_critical() -> None:
    mon = FireMonitor(FireSettings(window=10, hot_c=50.0))
    events = []
    for i in range(12):
        events += mon.update(at(i), flame(), flickering(i), SensorReading(temperature_c=65.0))
    assert events[0].severity is Severity.CRITICAL


def test_region_change_is_zero_for_identical_and_positive_for_changed() -> None:
    a = np.zeros((90, 160), dtype=np.uint8)
    b = a.copy()
    b[10:20, 10:20] = 255
    assert region_change(a, a, [BOX], 0.25) == 0.0
    assert region_change(a, b, [(40.0, 40.0, 80.0, 80.0)], 0.25) == 1.0
    # A box off the frame has no pixels to compare.
    assert region_change(a, b, [(5000.0, 5000.0, 6000.0, 6000.0)], 0.25) == 0.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=80))
def test_never_opens_without_a_majority_of_the_window(seen: list[bool]) -> None:
    window = 10
    mon = FireMonitor(FireSettings(window=window))
    for i, present in enumerate(seen):
        for event in mon.update(at(i), flame() if present else [], flickering(i)):
            if event.phase is Phase.NEW:
                recent = seen[max(0, i - window + 1) : i + 1]
                assert len(recent) == window
                assert sum(recent) > window / 2
