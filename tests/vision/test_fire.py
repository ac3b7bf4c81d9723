"""FireMonitor on scripted frames with a fixed clock: majority, flicker at the region's own
scale, smoke alone, sensors, clearing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vision.detector import Detection
from vision.events import Hazard, Phase, Severity
from vision.fire import FireMonitor, FireSettings, SensorReading
from vision.flicker import covered_share, grey_frame, growth, region_flicker
from vision.roles import Role

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
# Larger than small_flame_share of the frame: judged on flicker alone.
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
    # Tongues of flame 20 pixels across, each brighter or darker from frame to frame.
    blocks = rng.integers(60, 255, size=(5, 5, 3), dtype=np.uint8)
    frame[100:200, 200:300] = blocks.repeat(20, axis=0).repeat(20, axis=1)
    return frame


def test_flickering_fire_in_most_frames_opens_one_event() -> None:
    mon = FireMonitor(FireSettings(window=20, small_flame_share=0.0))
    events = []
    for i in range(40):
        seen = i % 4 != 0  # 3 frames in 4: a flame the model misses now and then
        events += mon.update(at(i), flame() if seen else [], flickering(i))
    assert [(e.kind, e.phase) for e in events] == [(Hazard.FIRE, Phase.NEW)]
    assert events[0].severity is Severity.WARNING


def test_static_red_object_is_not_a_fire() -> None:
    mon = FireMonitor(FireSettings(window=20, small_flame_share=0.0))
    events = []
    for i in range(100):
        events += mon.update(at(i), flame(0.9), STILL)
    assert events == []


def test_fire_in_half_the_frames_or_fewer_is_not_enough() -> None:
    mon = FireMonitor(FireSettings(window=20, small_flame_share=0.0))
    events = []
    for i in range(100):
        events += mon.update(at(i), flame() if i % 2 else [], flickering(i))
    assert events == []


def test_fire_gone_ends_the_event() -> None:
    mon = FireMonitor(FireSettings(window=20, clear_fraction=0.2, small_flame_share=0.0))
    events = []
    for i in range(30):
        events += mon.update(at(i), flame(), flickering(i))
    for i in range(30, 60):
        events += mon.update(at(i), [], flickering(i))
    assert [e.phase for e in events] == [Phase.NEW, Phase.END]
    # Ends once fewer than 4 of the last 20 frames had fire: after 17 empty frames.
    assert events[1].at == at(30 + 16)


def test_smoke_with_fire_is_its_own_event() -> None:
    mon = FireMonitor(FireSettings(window=10, small_flame_share=0.0))
    events = []
    for i in range(20):
        events += mon.update(at(i), flame() + flame(role=Role.SMOKE), flickering(i))
    assert sorted((e.kind, e.phase) for e in events) == [
        (Hazard.FIRE, Phase.NEW),
        (Hazard.SMOKE, Phase.NEW),
    ]


def growing_smoke(i: int, grow: bool) -> list[Detection]:
    """A smoke box whose side grows 4 % a frame (or stays) from a 100-pixel square."""
    side = 100.0 * (1.04**i if grow else 1.0)
    return [Detection(Role.SMOKE, "smoke", 0.7, (200.0, 100.0, 200.0 + side, 100.0 + side))]


def test_smoke_alone_needs_persistence_and_growth() -> None:
    settings = FireSettings(smoke_alone_s=10.0, smoke_growth=1.2)
    # A puff of vapour for 4 s: nothing.
    mon = FireMonitor(settings)
    events = []
    for i in range(60):
        events += mon.update(at(i), growing_smoke(i, grow=True) if i < 16 else [], flickering(i))
    assert events == []
    # Smoke that stays but does not grow (mist, a steam vent): nothing.
    mon = FireMonitor(settings)
    for i in range(80):
        events += mon.update(at(i), growing_smoke(i, grow=False), flickering(i))
    assert events == []
    # Smoke that stays and grows: one event once it has been seen for 10 s.
    mon = FireMonitor(settings)
    for i in range(80):
        events += mon.update(at(i), growing_smoke(i, grow=True), flickering(i))
    assert [(e.kind, e.phase) for e in events] == [(Hazard.SMOKE, Phase.NEW)]
    assert events[0].at == at(40)
    assert "growing" in events[0].evidence


def test_smoke_sensor_confirms_camera_smoke_at_once() -> None:
    mon = FireMonitor()
    alarm = SensorReading(smoke_alarm=True)
    events = []
    for i in range(4):
        events += mon.update(at(i), flame(role=Role.SMOKE), flickering(i), alarm)
    assert [(e.kind, e.phase, e.severity) for e in events] == [
        (Hazard.SMOKE, Phase.NEW, Severity.CRITICAL)
    ]
    # Two frames seen with the sensor on: opened on the second.
    assert events[0].at == at(1)
    assert "smoke sensor on" in events[0].evidence


def test_temperature_rise_confirms_at_once() -> None:
    mon = FireMonitor(FireSettings(rise_c=8.0, hot_c=80.0))
    events = []
    for i in range(40):
        events += mon.update(at(i), [], STILL, SensorReading(temperature_c=24.0))
    for i in range(40, 43):
        reading = SensorReading(temperature_c=24.0 + 5 * (i - 39))
        events += mon.update(at(i), flame(), flickering(i), reading)
    assert [(e.kind, e.severity) for e in events] == [(Hazard.FIRE, Severity.CRITICAL)]
    assert events[0].at == at(41)
    assert "temperature up 10 C" in events[0].evidence


def test_sensors_raise_the_severity_at_once() -> None:
    mon = FireMonitor(FireSettings(window=10, hot_c=50.0, small_flame_share=0.0))
    events = []
    for i in range(15):
        events += mon.update(at(i), flame(), flickering(i), SensorReading(temperature_c=31.0))
    events += mon.update(at(15), flame(), flickering(15), SensorReading(smoke_alarm=True))
    assert [(e.phase, e.severity) for e in events] == [
        (Phase.NEW, Severity.WARNING),
        (Phase.UPDATE, Severity.CRITICAL),
    ]


def test_hot_reading_at_opening_makes_it_critical() -> None:
    mon = FireMonitor(FireSettings(window=10, hot_c=50.0, small_flame_share=0.0))
    events = []
    for i in range(12):
        events += mon.update(at(i), flame(), flickering(i), SensorReading(temperature_c=65.0))
    assert events[0].severity is Severity.CRITICAL


def test_region_flicker_is_measured_at_the_regions_own_scale() -> None:
    a = np.zeros((90, 160), dtype=np.uint8)
    b = a.copy()
    b[10:20, 10:20] = 255
    assert region_flicker(a, a, [(40.0, 40.0, 80.0, 80.0)], 1.0) == 0.0
    # A 10-pixel region that changed completely changes (nearly) completely, however small.
    changed = region_flicker(a, b, [(10.0, 10.0, 20.0, 20.0)], 1.0)
    assert changed is not None
    assert changed > 0.6
    # A box off the frame has no pixels to compare.
    assert region_flicker(a, b, [(5000.0, 5000.0, 6000.0, 6000.0)], 1.0) is None


def test_region_share_and_growth() -> None:
    assert covered_share([(0.0, 0.0, 32.0, 18.0)], 64, 36) == 0.25
    assert covered_share([], 64, 36) == 0.0
    assert growth([0.1, 0.1, 0.2, 0.2, 0.3, 0.3]) == pytest.approx(3.0)
    assert growth([0.1, 0.1]) is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=80))
def test_never_opens_without_a_majority_of_the_window(seen: list[bool]) -> None:
    window = 8
    mon = FireMonitor(FireSettings(confirm_frames=window, small_flame_share=0.0))
    for i, present in enumerate(seen):
        for event in mon.update(at(i), flame() if present else [], flickering(i)):
            if event.phase is Phase.NEW:
                recent = seen[max(0, i - window + 1) : i + 1]
                assert len(recent) == window
                assert sum(recent) > window / 2


def test_small_steady_flame_without_smoke_is_a_candle_until_it_grows() -> None:
    # BOX covers 4 % of the frame: below the default small_flame_share.
    mon = FireMonitor()
    events = []
    for i in range(120):
        events += mon.update(at(i), flame(), flickering(i))
    assert events == []
    # The same flame with smoke over it is a fire.
    mon = FireMonitor()
    for i in range(12):
        events += mon.update(at(i), flame() + flame(role=Role.SMOKE), flickering(i))
    assert (Hazard.FIRE, Phase.NEW) in [(e.kind, e.phase) for e in events]


def test_flicker_of_a_dark_frame_is_measured_as_if_exposed_normally() -> None:
    bright = [flickering(i) for i in range(2)]
    dark = [(f.astype(np.float32) * 0.3).astype(np.uint8) for f in bright]
    normal = region_flicker(grey_frame(bright[0])[0], grey_frame(bright[1])[0], [BOX], 1.0)
    dimmed = region_flicker(grey_frame(dark[0])[0], grey_frame(dark[1])[0], [BOX], 1.0)
    assert normal is not None
    assert dimmed is not None
    # Without the lift the dimmed flames change 0.3 times as much and fall under the threshold.
    assert dimmed > 0.7 * normal
