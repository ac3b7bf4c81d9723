"""The entry controller's decisions, visits, exits and throttling (unit level: fakes)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.entry.controller import EntryConfig, EntryController, feed_scanner
from edge.entry.store import EntryStore
from station.contracts import Command, CommandName, Message, Visit
from station.tokens import TokenSigner, new_private_key, public_key_of

PRIVATE = new_private_key()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def move(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Door:
    def __init__(self) -> None:
        self.unlocks: list[str] = []
        self.held_open = False

    def request_unlock(self, reason: str) -> None:
        self.unlocks.append(reason)

    def stands_open(self) -> bool:
        return self.held_open


class Sink:
    def __init__(self) -> None:
        self.visits: list[Visit] = []

    def send(self, topic: str, message: Message | bytes, retain: bool = False) -> int:
        assert topic == "uws/v1/node-1/visit"
        assert isinstance(message, Visit)
        self.visits.append(message)
        return len(self.visits)


def _setup(tmp_path: Path, **policy: float) -> tuple[EntryController, Door, Sink, Clock]:
    clock, door, sink = Clock(), Door(), Sink()
    config = EntryConfig(
        station_id="st-1",
        public_key=public_key_of(PRIVATE),
        state_path=tmp_path / "entry.sqlite",
        **policy,
    )
    controller = EntryController("node-1", config, EntryStore(config.state_path), door, sink, clock)
    return controller, door, sink, clock


def _token(clock: Clock, member: str = "m-1") -> str:
    return TokenSigner(PRIVATE).issue(member, ["st-1"], clock(), ttl_s=60)[0]


def test_an_opening_confirms_the_entry_and_an_unopened_door_records_nothing(
    tmp_path: Path,
) -> None:
    controller, door, sink, clock = _setup(tmp_path, confirm_timeout_s=10)
    assert controller.present_qr(_token(clock)).allowed  # type: ignore[union-attr]
    assert door.unlocks == ["qr entry"]
    controller.door_changed(True)
    assert [v.member_id for v in sink.visits] == ["m-1"]

    clock.move(5)
    assert controller.present_qr(_token(clock, "m-2")).allowed  # type: ignore[union-attr]
    clock.move(11)
    controller.door_changed(True)  # too late: that opening is not m-2 entering
    assert len(sink.visits) == 1
    assert controller.store.audit_log()[-1].outcome == "not_entered"


def test_a_door_held_open_starts_the_visit_at_admission(tmp_path: Path) -> None:
    controller, door, sink, clock = _setup(tmp_path, confirm_timeout_s=10)
    controller.room_seen(2)
    door.held_open = True  # a fire holds it: no opening may come to confirm anyone
    assert controller.present_qr(_token(clock)).allowed  # type: ignore[union-attr]
    assert [v.member_id for v in sink.visits] == ["m-1"]
    controller.door_changed(True)  # the worker pushes the held door: walking in, not out
    controller.room_seen(1)  # a drop now is no exit: that opening was theirs
    assert [v.member_id for v in sink.visits] == ["m-1"]
    assert sink.visits[0].exited_at is None
    clock.move(30)
    controller.tick()  # nothing pending expires as "not entered"
    assert [e.outcome for e in controller.store.audit_log()] == ["unlocked"]
    assert [v.member_id for v in controller.inside()] == ["m-1"]


def test_the_same_code_seen_in_following_frames_is_one_showing(tmp_path: Path) -> None:
    controller, door, _, clock = _setup(tmp_path, repeat_ignore_s=3)
    token = _token(clock)
    assert controller.present_qr(token) is not None
    clock.move(0.1)
    assert controller.present_qr(token) is None
    clock.move(5)
    decision = controller.present_qr(token)
    assert decision is not None
    assert decision.reason == "replayed"
    assert len(door.unlocks) == 1


def test_replay_cache_survives_a_restart(tmp_path: Path) -> None:
    controller, _door, _, clock = _setup(tmp_path, repeat_ignore_s=0)
    token = _token(clock)
    assert controller.present_qr(token).allowed  # type: ignore[union-attr]
    controller.store.close()
    again, door2, _, clock2 = _setup(tmp_path, repeat_ignore_s=0)
    clock2.now = clock.now + timedelta(seconds=1)
    decision = again.present_qr(token)
    assert decision is not None
    assert decision.reason == "replayed"
    assert door2.unlocks == []


def test_repeated_failures_are_slowed_down_with_growing_pauses(tmp_path: Path) -> None:
    controller, _, _, clock = _setup(
        tmp_path, repeat_ignore_s=0, failure_limit=3, failure_window_s=60, lockout_s=10
    )
    reasons = []
    for _ in range(4):
        reasons.append(controller.present_qr("UWS1.bad.code").reason)  # type: ignore[union-attr]
        clock.move(1)
    assert reasons == ["malformed", "malformed", "malformed", "throttled"]
    clock.move(10)
    assert controller.present_qr("UWS1.bad.code").reason == "malformed"  # type: ignore[union-attr]
    controller.present_qr("UWS1.bad.code")
    controller.present_qr("UWS1.bad.code")
    clock.move(15)  # the second pause is 20 s
    assert controller.present_qr("UWS1.bad.code").reason == "throttled"  # type: ignore[union-attr]
    # Another code is not held back by the first one's failures.
    assert controller.present_qr(_token(clock)).allowed  # type: ignore[union-attr]


def test_anti_passback_is_logged_and_never_blocks(tmp_path: Path) -> None:
    controller, door, _sink, clock = _setup(tmp_path, repeat_ignore_s=0)
    controller.present_qr(_token(clock))
    controller.door_changed(True)
    clock.move(30)
    decision = controller.present_qr(_token(clock))
    assert decision is not None
    assert decision.allowed
    assert "anti-passback" in decision.reason
    assert len(door.unlocks) == 2


def test_exit_by_door_and_count_or_by_timeout(tmp_path: Path) -> None:
    controller, _, sink, clock = _setup(
        tmp_path, repeat_ignore_s=0, exit_window_s=20, visit_timeout_s=3600
    )
    controller.person_count(0)
    for member in ("m-1", "m-2"):
        controller.present_qr(_token(clock, member))
        controller.door_changed(True)
        clock.move(1)
    controller.person_count(2)
    clock.move(600)
    controller.door_changed(True)  # someone opens from inside
    clock.move(3)
    controller.person_count(1)
    exits = [v for v in sink.visits if v.exited_at is not None]
    assert [v.member_id for v in exits] == ["m-1"]
    assert exits[0].exited_at - exits[0].entered_at == timedelta(seconds=605)  # type: ignore[operator]
    clock.move(3600)
    controller.tick()
    assert [v.member_id for v in sink.visits if v.exited_at is not None] == ["m-1", "m-2"]
    assert controller.inside() == []


def test_remote_unlock_and_scanner_input(tmp_path: Path) -> None:
    controller, door, sink, clock = _setup(tmp_path, repeat_ignore_s=0)
    command = Command(
        cmd_id="c-1",
        name=CommandName.UNLOCK,
        args={"member_id": "m-9"},
        issued_by="duty:li",
        issued_at=clock(),
        expires_at=clock() + timedelta(seconds=30),
    )
    controller.remote_unlock(command)
    controller.door_changed(True)
    feed_scanner(controller, io.StringIO(f"\n{_token(clock, 'm-3')}\r\n"))
    controller.door_changed(True)
    assert [(v.member_id, v.method.value) for v in sink.visits] == [
        ("m-9", "remote"),
        ("m-3", "qr"),
    ]
    assert len(door.unlocks) == 2


def test_open_visits_survive_a_restart_and_end_by_the_door_line(tmp_path: Path) -> None:
    controller, _, sink, clock = _setup(tmp_path, repeat_ignore_s=0, exit_window_s=20)
    for member in ("m-1", "m-2"):
        controller.present_qr(_token(clock, member))
        controller.door_changed(True)
        clock.move(1)
    controller.store.close()
    # The node restarts: the same state file, a new controller.
    config = controller.config
    again = EntryController("node-1", config, EntryStore(config.state_path), Door(), sink, clock)
    assert [v.member_id for v in again.inside()] == ["m-1", "m-2"]
    again.room_seen(2, door_exits=0)
    clock.move(60)
    again.room_seen(2, door_exits=1)  # a crossing with the door shut long ago: no exit
    again.door_changed(True)
    clock.move(2)
    again.room_seen(2, door_exits=2)  # the line saw one leave; the count lags behind
    assert [v.member_id for v in again.inside()] == ["m-2"]
    ended = [v for v in sink.visits if v.exited_at is not None]
    assert [v.member_id for v in ended] == ["m-1"]
    assert [v.member_id for v in again.store.open_visits()] == ["m-2"]
