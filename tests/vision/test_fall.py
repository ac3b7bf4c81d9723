"""FallMonitor on scripted detections: upright -> down -> up, rest zones, id switches, stillness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from vision.detector import Detection
from vision.events import Hazard, HazardEvent, Phase
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
    # The same box every frame: a person who stopped moving is still a fall.
    mon = FallMonitor(FallSettings(confirm_s=5.0))
    events = run(mon, [(0, 2, [upright()]), (2, 60, [down()])])
    assert [e.phase for e in events] == [Phase.NEW]
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
    mon = FallMonitor(FallSettings(confirm_s=5.0, unseen_upright_extra_s=10.0))
    events = run(mon, [(0, 4, [upright(track=1)]), (4, 12, [down(track=7)])])
    assert [e.phase for e in events] == [Phase.NEW]
    assert events[0].at == at(9.0)


def test_someone_found_already_down_waits_longer() -> None:
    mon = FallMonitor(FallSettings(confirm_s=5.0, unseen_upright_extra_s=10.0))
    events = run(mon, [(0, 30, [down(track=3)])])
    assert [e.phase for e in events] == [Phase.NEW]
    assert events[0].at == at(15.0)


def test_short_occlusion_does_not_restart_the_clock() -> None:
    mon = FallMonitor(FallSettings(confirm_s=5.0, occlusion_s=3.0))
    events = run(mon, [(0, 2, [upright()]), (2, 4, [down()]), (4, 5.5, []), (5.5, 10, [down()])])
    assert [e.phase for e in events] == [Phase.NEW]
    assert events[0].started_at == at(2.0)
    assert events[0].at == at(7.0)


def test_long_occlusion_restarts_the_clock() -> None:
    mon = FallMonitor(FallSettings(confirm_s=5.0, occlusion_s=1.0))
    events = run(mon, [(0, 2, [upright()]), (2, 4, [down()]), (4, 8, []), (8, 16, [down()])])
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
