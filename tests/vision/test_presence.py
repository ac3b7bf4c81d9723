"""PresenceMonitor with synthetic detections and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vision.detector import Detection
from vision.events import HazardEvent as PresenceEvent
from vision.events import Phase
from vision.presence import PresenceMonitor, PresenceSettings
from vision.roles import Role
from vision.zones import Zone

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
W, H = 640, 360


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def persons(n: int, score: float = 0.8, x: float = 100) -> list[Detection]:
    return [Detection(Role.PERSON, "person", score, (x, 100, x + 40, 300)) for _ in range(n)]


def monitor(**kwargs: float | None) -> PresenceMonitor:
    settings: dict[str, float | None] = {
        "confirm_s": 1.0,
        "clear_s": 3.0,
        "update_every_s": 5.0,
        "refresh_s": None,
    }
    settings.update(kwargs)
    left = Zone.from_points("left", [[0, 0], [0.5, 0], [0.5, 1], [0, 1]])
    return PresenceMonitor(left, PresenceSettings(**settings))


def feed(
    mon: PresenceMonitor, start: float, stop: float, step: float, dets: list[Detection]
) -> list[PresenceEvent]:
    out: list[PresenceEvent] = []
    t = start
    while t < stop - 1e-9:
        out += mon.update(at(t), dets, W, H)
        t += step
    return out


def test_new_only_after_confirm_time() -> None:
    mon = monitor()
    assert feed(mon, 0.0, 1.0, 0.2, persons(2)) == []
    [new] = mon.update(at(1.0), persons(2, score=0.9), W, H)
    assert new.phase is Phase.NEW
    assert new.count == 2
    assert new.score == 0.9
    assert new.started_at == at(1.0)
    assert new.zone == "left"
    assert len(new.event_id) == 32
    assert mon.active


def test_brief_detection_never_opens_an_event() -> None:
    mon = monitor()
    assert mon.update(at(0), persons(1), W, H) == []
    assert feed(mon, 0.2, 10.0, 0.2, []) == []
    # After a long gap, confirmation starts again rather than counting from t=0.
    assert mon.update(at(10.0), persons(1), W, H) == []
    assert not mon.active


def test_update_when_count_changes_at_most_every_update_interval() -> None:
    mon = monitor()
    [new] = feed(mon, 0.0, 1.2, 0.2, persons(1))
    # The count changes at once, but the UPDATE waits for update_every_s after the NEW.
    early = feed(mon, 1.2, 6.0, 0.2, persons(3))
    assert early == []
    [update] = mon.update(at(6.0), persons(3, score=0.95), W, H)
    assert update.phase is Phase.UPDATE
    assert update.event_id == new.event_id
    assert update.count == 3
    assert update.score == 0.95
    # Same count later: nothing new to say (no refresh configured).
    assert feed(mon, 6.2, 20.0, 0.2, persons(3)) == []


def test_refresh_repeats_an_unchanged_event() -> None:
    mon = monitor(refresh_s=10.0)
    [new] = feed(mon, 0.0, 1.2, 0.2, persons(1))
    updates = feed(mon, 1.2, 25.0, 0.5, persons(1))
    assert [u.phase for u in updates] == [Phase.UPDATE, Phase.UPDATE]
    assert all(u.event_id == new.event_id and u.count == 1 for u in updates)


def test_end_after_clear_time() -> None:
    mon = monitor()
    [new] = feed(mon, 0.0, 1.2, 0.2, persons(2, score=0.7))
    last_seen = 1.0
    assert feed(mon, last_seen + 0.2, last_seen + 3.0, 0.2, []) == []
    [end] = mon.update(at(last_seen + 3.0), [], W, H)
    assert end.phase is Phase.END
    assert end.event_id == new.event_id
    assert end.count == 0
    assert end.score == 0.7
    assert end.started_at == new.started_at
    assert not mon.active


def test_flicker_does_not_split_an_event() -> None:
    mon = monitor()
    events = feed(mon, 0.0, 2.0, 0.2, persons(1))
    # Missed detections for up to 2 s at a time, then seen again, several times.
    for start in (2.0, 6.0, 10.0):
        events += feed(mon, start, start + 2.0, 0.2, [])
        events += feed(mon, start + 2.0, start + 4.0, 0.2, persons(1))
    events += feed(mon, 14.0, 20.0, 0.2, [])
    phases = [e.phase for e in events]
    assert phases == [Phase.NEW, Phase.END]
    assert len({e.event_id for e in events}) == 1


def test_a_later_visit_is_a_new_event() -> None:
    mon = monitor()
    first = feed(mon, 0.0, 10.0, 0.5, persons(1)) + feed(mon, 10.0, 14.0, 0.5, [])
    second = feed(mon, 20.0, 22.0, 0.5, persons(1))
    assert [e.phase for e in first] == [Phase.NEW, Phase.END]
    assert [e.phase for e in second] == [Phase.NEW]
    assert second[0].event_id != first[0].event_id


def test_only_the_watched_role_inside_the_zone_counts() -> None:
    mon = monitor()
    outside = persons(2, x=500)  # feet in the right half: outside the zone
    fire = [Detection(Role.FIRE, "fire", 0.9, (100, 100, 140, 300))]
    assert feed(mon, 0.0, 5.0, 0.2, outside + fire) == []
    [new] = feed(mon, 5.0, 6.2, 0.2, outside + persons(1))
    assert new.count == 1


def test_close_ends_an_open_event() -> None:
    mon = monitor()
    feed(mon, 0.0, 1.2, 0.2, persons(1))
    [end] = mon.close(at(2.0))
    assert end.phase is Phase.END
    assert mon.close(at(3.0)) == []
