"""FallMonitor on scripted detections with a fixed clock: descent speed, stillness, person down,
rest zones, id switches, one event per fall."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from vision.descent import Sighting, descent_between, motion_rate
from vision.detector import Detection
from vision.events import Hazard, HazardEvent, Phase, Severity
from vision.fall import FallMonitor, FallSettings
from vision.roles import Role
from vision.zones import Zone

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
W, H = 640, 360
STEP = 0.25


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def upright(track: int | None = 1, x: float = 300) -> Detection:
    return Detection(Role.PERSON, "Normal", 0.8, (x, 100, x + 40, 300), track)


def down(track: int | None = 1, x: float = 280, score: float = 0.7) -> Detection:
    # Lying across the floor where the upright person stood.
    return Detection(Role.FALLEN, "Fall", score, (x, 240, x + 120, 300), track)


def run(mon: FallMonitor, script: list[tuple[float, float, list[Detection]]]) -> list[HazardEvent]:
    """Feed (from_s, to_s, detections) segments frame by frame every STEP seconds."""
    out: list[HazardEvent] = []
    for start, stop, dets in script:
        t = start
        while t < stop - 1e-9:
            out += mon.update(at(t), dets, W, H)
            t += STEP
    return out


def test_fall_confirmed_after_hold_and_ended_by_getting_up() -> None:
    mon = FallMonitor(FallSettings(confirm_s=5.0, recover_s=1.0))
    events = run(mon, [(0, 4, [upright()]), (4, 12, [down()]), (12, 14, [upright()])])
    assert [(e.phase, e.kind) for e in events] == [
        (Phase.NEW, Hazard.FALL),
        (Phase.END, Hazard.FALL),
    ]
    new, end = events
    assert new.at == at(9.0)
    assert new.started_at == at(4.0)
    assert new.score == 0.7
    assert end.event_id == new.event_id
    assert end.at == at(13.0)


def test_short_stumble_is_not_a_fall() -> None:
    mon = FallMonitor(FallSettings(confirm_s=5.0))
    assert run(mon, [(0, 2, [upright()]), (2, 6, [down()]), (6, 20, [upright()])]) == []


def test_motionless_person_on_the_floor_stays_watched() -> None:
    # The same box every frame: a person who stopped moving is still a fall, and one fall is
    # one event: no "person down" on top of it however long they lie there.
    mon = FallMonitor(FallSettings(confirm_s=5.0, person_down_s=30.0))
    events = run(mon, [(0, 2, [upright()]), (2, 120, [down()])])
    assert [(e.phase, e.severity) for e in events] == [(Phase.NEW, Severity.CRITICAL)]
    assert "still" in events[0].evidence
    assert mon.open_events == 1


def test_lying_in_a_rest_zone_is_rest() -> None:
    cot = Zone.from_points("cot", [[0.4, 0.5], [0.7, 0.5], [0.7, 1.0], [0.4, 1.0]])
    mon = FallMonitor(FallSettings(confirm_s=5.0), rest_zones=[cot])
    assert run(mon, [(0, 2, [upright()]), (2, 30, [down()])]) == []
    # The same person lying outside the cot is a fall.
    events = run(mon, [(30, 32, [upright(x=20)]), (32, 40, [down(x=10)])])
    assert [e.phase for e in events] == [Phase.NEW]


def test_new_track_id_at_the_fall_keeps_the_history() -> None:
    # Trackers often give a new id when the body changes shape: upright was id 1, down is id 7.
    mon = FallMonitor(FallSettings(confirm_s=5.0))
    events = run(mon, [(0, 4, [upright(track=1)]), (4, 12, [down(track=7)])])
    assert [e.phase for e in events] == [Phase.NEW]
    assert events[0].at == at(9.0)


def test_someone_found_already_down_and_still_is_a_person_down_warning() -> None:
    # No descent was seen, so it is never a fall; lying still for person_down_s needs a look.
    mon = FallMonitor(FallSettings(person_down_s=20.0, still_window_s=2.0))
    events = run(mon, [(0, 40, [down(track=3)])])
    assert [(e.phase, e.severity) for e in events] == [(Phase.NEW, Severity.WARNING)]
    assert events[0].at == at(20.0)
    assert "person down" in events[0].evidence


def test_short_occlusion_does_not_restart_the_clock() -> None:
    mon = FallMonitor(FallSettings(confirm_s=5.0, occlusion_s=3.0))
    events = run(mon, [(0, 2, [upright()]), (2, 4, [down()]), (4, 5.5, []), (5.5, 10, [down()])])
    assert [e.phase for e in events] == [Phase.NEW]
    assert events[0].started_at == at(2.0)
    assert events[0].at == at(7.0)


def test_long_occlusion_restarts_the_clock() -> None:
    # Unseen longer than occlusion_s, the descent seen before is forgotten: what is left is
    # a person found down, judged on stillness from when they are seen again.
    settings = FallSettings(confirm_s=5.0, occlusion_s=1.0, person_down_s=5.0, still_window_s=1.0)
    mon = FallMonitor(settings)
    events = run(mon, [(0, 2, [upright()]), (2, 4, [down()]), (4, 8, []), (8, 16, [down()])])
    assert [(e.phase, e.severity) for e in events] == [(Phase.NEW, Severity.WARNING)]
    assert events[0].started_at == at(8.0)


def test_two_people_fall_two_events_and_the_other_stays_up() -> None:
    mon = FallMonitor(FallSettings(confirm_s=5.0))
    events = run(
        mon,
        [
            (0, 2, [upright(1, x=20), upright(2, x=500)]),
            (2, 10, [down(1, x=10), upright(2, x=500)]),
        ],
    )
    assert [e.phase for e in events] == [Phase.NEW]
    assert mon.open_events == 1


def test_track_lost_for_good_ends_the_event() -> None:
    mon = FallMonitor(FallSettings(confirm_s=5.0, clear_s=10.0))
    events = run(mon, [(0, 2, [upright()]), (2, 8, [down()]), (8, 20, [])])
    assert [e.phase for e in events] == [Phase.NEW, Phase.END]
    assert events[1].at == at(17.75)


def test_close_ends_open_falls() -> None:
    mon = FallMonitor(FallSettings(confirm_s=1.0))
    run(mon, [(0, 2, [upright()]), (2, 5, [down()])])
    ended = mon.close(at(6))
    assert [e.phase for e in ended] == [Phase.END]
    assert mon.open_events == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["up", "down", "gone"]), min_size=1, max_size=120))
def test_events_only_after_a_full_hold_and_always_paired(script: list[str]) -> None:
    confirm = 2.0
    mon = FallMonitor(FallSettings(confirm_s=confirm, occlusion_s=0.1, recover_s=0.5))
    history: list[str] = []
    opened = 0
    for i, state in enumerate(script):
        dets = {"up": [upright()], "down": [down()], "gone": []}[state]
        history.append(state)
        for event in mon.update(at(i * STEP), dets, W, H):
            if event.phase is Phase.NEW:
                opened += 1
                held = int(confirm / STEP)
                # Every frame of the hold was seen down (occlusion_s is below one frame).
                assert history[-held - 1 :] == ["down"] * (held + 1)
            elif event.phase is Phase.END:
                opened -= 1
            assert opened in (0, 1)


def lowering(track: int, t: float, start: float, stop: float) -> Detection:
    """A person going from upright to lying between `start` and `stop`, seen at `t`."""
    k = min(max((t - start) / (stop - start), 0.0), 1.0)
    # Top edge from 100 to 240, width from 40 to 120, feet stay on the floor at 300.
    x1, top, x2 = 300 - 20 * k, 100 + 140 * k, 340 + 60 * k
    role = Role.FALLEN if k >= 1.0 else Role.PERSON
    return Detection(role, role.value, 0.7, (x1, top, x2, 300), track)


def run_fn(
    mon: FallMonitor, stop: float, dets: Callable[[float], list[Detection]]
) -> list[HazardEvent]:
    """Feed detections made by `dets(t)` every STEP seconds from 0 until `stop`."""
    out: list[HazardEvent] = []
    t = 0.0
    while t < stop - 1e-9:
        out += mon.update(at(t), dets(t), W, H)
        t += STEP
    return out


def test_fast_fall_confirms_within_the_default_hold_with_its_evidence() -> None:
    # Default settings: down from 4.0 s after a 0.5 s fall; found within 3 s of lying.
    mon = FallMonitor()
    events = run_fn(mon, 12, lambda t: [lowering(1, t, 3.5, 4.0)])
    assert [(e.phase, e.severity) for e in events] == [(Phase.NEW, Severity.CRITICAL)]
    assert at(4.0) < events[0].at <= at(7.0)
    # Seen half-way down at 3.75 s, lying at 4.0 s: 0.54 body heights in 0.25 s.
    assert events[0].evidence.startswith("descent 2.2 body-heights/s (0.5 in 0.2 s, turned x3.2)")


def test_slow_lying_down_is_never_a_fall_but_lying_still_becomes_person_down() -> None:
    # Lying down over 6 s (kneel, sit, lie): no fall; still on the floor for 60 s: a warning.
    mon = FallMonitor()
    events = run_fn(mon, 90, lambda t: [lowering(1, t, 2.0, 8.0)])
    assert [(e.phase, e.severity) for e in events] == [(Phase.NEW, Severity.WARNING)]
    # Still from about when the lowering ended (the median motion over 3 s falls to 0).
    assert at(8.0 + 58.0) <= events[0].at <= at(8.0 + 62.0)
    assert "person down" in events[0].evidence


def test_lying_down_and_exercising_raises_nothing() -> None:
    # Sit-ups on the floor: the box rises and falls all the time, so it is never still.
    def situps(t: float) -> list[Detection]:
        lift = 60 * abs(((t / 2.0) % 2) - 1)
        return [Detection(Role.FALLEN, "Fall", 0.7, (280, 240 - lift, 400, 300), 1)]

    assert run_fn(FallMonitor(), 180, situps) == []


def test_fall_in_a_rest_zone_raises_neither_fall_nor_person_down() -> None:
    cot = Zone.from_points("cot", [[0.4, 0.5], [0.7, 0.5], [0.7, 1.0], [0.4, 1.0]])
    mon = FallMonitor(rest_zones=[cot])
    assert run_fn(mon, 120, lambda t: [lowering(1, t, 3.5, 4.0)]) == []


def test_descent_too_slow_or_too_small_is_no_fall() -> None:
    # Sitting down fast: the top drops a quarter of the body, below the least drop.
    def sit(t: float) -> list[Detection]:
        if t < 4.0:
            return [upright()]
        return [Detection(Role.FALLEN, "Fall", 0.7, (290, 150, 360, 300), 1)]

    assert run_fn(FallMonitor(FallSettings(person_down_s=600)), 30, sit) == []


def test_descent_and_motion_are_measured_in_body_heights() -> None:
    up = Sighting(at(0), (100, 100, 140, 300))
    lying = Sighting(at(0.5), (80, 240, 200, 300))
    d = descent_between(up, lying)
    assert (round(d.drop, 2), round(d.speed, 2), round(d.seconds, 2)) == (0.7, 1.4, 0.5)
    # The same fall ten times smaller in the frame measures the same.
    small = descent_between(Sighting(at(0), (10, 10, 14, 30)), Sighting(at(0.5), (8, 24, 20, 30)))
    assert round(small.speed, 2) == 1.4
    still = [Sighting(at(i * 0.25), (80, 240, 200, 300)) for i in range(8)]
    assert motion_rate(still) == 0.0
    assert motion_rate(still[:2]) is None
    moving = [Sighting(at(i * 0.25), (80, 240 - 20 * (i % 2), 200, 300)) for i in range(8)]
    rate = motion_rate(moving)
    assert rate is not None
    assert rate > FallSettings().still_motion
