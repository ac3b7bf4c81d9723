"""CrowdMonitor and DoorCounter on scripted detections: smoothing, hysteresis, door crossings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from vision.crowd import CrowdMonitor, CrowdSettings, DoorCounter
from vision.detector import Detection
from vision.events import Hazard, HazardEvent, Phase
from vision.roles import Role
from vision.zones import DoorLine, Zone

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
W, H = 640, 360
ROOM = Zone.from_points("room", [[0, 0], [0.5, 0], [0.5, 1], [0, 1]])


def at(i: int) -> datetime:
    return T0 + timedelta(seconds=i * 0.5)


def people(n: int, x: float = 100) -> list[Detection]:
    return [Detection(Role.PERSON, "person", 0.8, (x, 100, x + 30, 300)) for _ in range(n)]


def crowd(**kwargs: float) -> CrowdMonitor:
    base: dict[str, float] = {"capacity": 5, "smooth_frames": 5, "hysteresis": 1}
    base.update(confirm_s=2.0, clear_s=2.0)
    base.update(kwargs)
    return CrowdMonitor(ROOM, CrowdSettings.model_validate(base))


def feed(mon: CrowdMonitor, counts: list[int], start: int = 0) -> list[HazardEvent]:
    out: list[HazardEvent] = []
    for i, n in enumerate(counts, start):
        out += mon.update(at(i), people(n), W, H)
    return out


def test_over_capacity_opens_and_under_ends() -> None:
    mon = crowd()
    events = feed(mon, [3] * 5 + [8] * 12 + [2] * 15)
    assert [(e.kind, e.phase) for e in events] == [
        (Hazard.CROWD, Phase.NEW),
        (Hazard.CROWD, Phase.END),
    ]
    assert events[0].count == 8
    assert events[0].zone == "room"


def test_single_frame_spikes_are_smoothed_away() -> None:
    mon = crowd()
    assert feed(mon, [4, 4, 20, 4, 4, 4, 19, 4, 4, 4, 4, 30, 4, 4] * 3) == []


def test_hovering_at_the_capacity_line_does_not_flap() -> None:
    mon = crowd(hysteresis=1)
    hover = [5, 6, 5, 6, 5, 5, 6, 6, 5] * 6  # at and just over capacity, for half a minute
    events = feed(mon, [8] * 12 + hover)
    assert [e.phase for e in events if e.phase is not Phase.UPDATE] == [Phase.NEW]
    # Count changes are reported, but at most every 10 s (27 s of hovering).
    assert 1 <= sum(e.phase is Phase.UPDATE for e in events) <= 3
    events = feed(mon, [2] * 15, start=100)
    assert [e.phase for e in events] == [Phase.END]


def test_only_feet_inside_the_zone_count() -> None:
    mon = crowd(capacity=2, confirm_s=0)
    outside = people(6, x=500)  # right half of the frame, outside the room polygon
    events = []
    for i in range(10):
        events += mon.update(at(i), outside + people(1), W, H)
    assert events == []
    assert mon.occupancy == 1


def test_occupancy_is_the_median() -> None:
    mon = crowd()
    feed(mon, [1, 9, 2, 8, 3])
    assert mon.occupancy == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=100))
def test_new_and_end_alternate_and_new_only_over_capacity(counts: list[int]) -> None:
    mon = crowd(capacity=5, confirm_s=0.5, clear_s=0.5)
    open_ = False
    for i, n in enumerate(counts):
        for event in mon.update(at(i), people(n), W, H):
            if event.phase is Phase.NEW:
                assert not open_
                assert event.count > 5
                open_ = True
            elif event.phase is Phase.END:
                assert open_
                assert mon.occupancy <= 4
                open_ = False


DOOR = DoorLine("door", (0.5, 0.0), (0.5, 1.0))  # vertical line; left of a->b (down) is x > 0.5


def walker(track: int, x: float) -> Detection:
    return Detection(Role.PERSON, "person", 0.8, (x - 15, 100, x + 15, 300), track)


def test_door_line_sides() -> None:
    assert DOOR.side(0.8, 0.5) == 1
    assert DOOR.side(0.2, 0.5) == -1
    assert DOOR.side(0.5, 0.3) == 0


def test_entries_and_exits_each_counted_once_per_track() -> None:
    door = DoorCounter(DOOR)
    xs = [100, 200, 300, 330, 310, 330, 300, 340, 400]  # crosses, dithers on the line, goes in
    for i, x in enumerate(xs):
        door.update(at(i), [walker(1, x)], W, H, occupancy=1)
    assert (door.entries, door.exits) == (1, 1)
    for i, x in enumerate([400, 300, 200], start=20):
        door.update(at(i), [walker(1, x)], W, H, occupancy=1)
    assert (door.entries, door.exits) == (1, 1)
    for i, x in enumerate([100, 500], start=30):
        door.update(at(i), [walker(2, x)], W, H, occupancy=1)
    assert (door.entries, door.exits, door.inside) == (2, 1, 1)


def test_untracked_people_are_not_counted_at_the_door() -> None:
    door = DoorCounter(DOOR)
    for i, x in enumerate([100, 500]):
        door.update(at(i), [Detection(Role.PERSON, "person", 0.9, (x, 0, x + 20, 90))], W, H, 1)
    assert door.entries == 0


def test_empty_room_resets_drift() -> None:
    door = DoorCounter(DOOR, empty_reset_s=5.0)
    for track in range(3):
        for i, x in enumerate([100, 500]):
            door.update(at(i), [walker(track, x)], W, H, occupancy=1)
    assert door.inside == 3  # three went in; the camera never saw them leave
    for i in range(10, 30):
        door.update(at(i), [], W, H, occupancy=0)
    assert door.inside == 0
    assert door.entries == 3
