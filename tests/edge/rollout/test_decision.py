"""The rollback decision on a fixed clock: watch, keep, or roll back and say why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from edge.rollout.config import RollbackThresholds
from edge.rollout.decision import Decision, Verdict, Vitals, decide, vitals_of
from station.contracts import CameraHealth, NodeHealth

SWAP = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LIMITS = RollbackThresholds(
    grace_s=5, window_s=20, min_fps_ratio=0.7, max_inference_ratio=2.0, max_cameras_down=0
)
BEFORE = [Vitals(SWAP - timedelta(seconds=s), 4.0, 100.0, 0) for s in (10, 5, 1)]


def at(s: float, fps: float = 4.0, ms: float = 110.0, down: int = 0) -> Vitals:
    return Vitals(SWAP + timedelta(seconds=s), fps, ms, down)


def decision(after: list[Vitals], now_s: float) -> Decision:
    return decide(BEFORE, after, SWAP, SWAP + timedelta(seconds=now_s), LIMITS)


def test_grace_then_watch_then_keep() -> None:
    # Heartbeats inside the grace are not judged, even bad ones (the model warms up).
    assert decision([at(2, fps=0.5, ms=900, down=1)], now_s=4).verdict is Verdict.WATCH
    assert decision([at(2, fps=0.5), at(8)], now_s=9).verdict is Verdict.WATCH
    # One heartbeat without a finished frame is noise: the window's mean is judged.
    noisy = [at(8, fps=0.0), at(12), at(16, fps=4.5), at(24)]
    assert decision(noisy, now_s=20).verdict is Verdict.WATCH
    assert decision(noisy, now_s=25) == Decision(Verdict.KEEP)


def test_slower_frames_roll_back_at_the_end_of_the_window_with_the_reason() -> None:
    slower = [at(8, fps=2.0), at(12, fps=2.4)]
    assert decision(slower, now_s=12).verdict is Verdict.WATCH
    rolled = decision(slower, now_s=25)
    assert rolled == Decision(Verdict.ROLL_BACK, "fps 2.20 < 0.7 x 4.00 before")


def test_a_slower_model_rolls_back_and_a_lost_camera_at_once() -> None:
    slow = decision([at(8, ms=250.0)], now_s=25)
    assert slow == Decision(Verdict.ROLL_BACK, "model 250 ms > 2.0 x 100 ms before")
    lost = decision([at(8, down=1)], now_s=8)
    assert lost == Decision(Verdict.ROLL_BACK, "1 camera(s) without frames, 0 before")


def test_silence_past_the_window_rolls_back() -> None:
    assert decision([], now_s=20).verdict is Verdict.WATCH
    assert decision([], now_s=25) == Decision(Verdict.ROLL_BACK, "no heartbeat since the swap")


def test_vitals_of_a_heartbeat_sum_the_cameras() -> None:
    cams = [
        CameraHealth(camera_id="a", connected=True, fps=2.0, reconnects=0),
        CameraHealth(camera_id="b", connected=False, fps=0.0, reconnects=3),
    ]
    beat = NodeHealth(
        node_id="n",
        ts=SWAP,
        uptime_s=1,
        inference_ms=80,
        cpu_percent=5,
        memory_mb=100,
        outbox_depth=0,
        cameras=cams,
    )
    assert vitals_of(beat) == Vitals(SWAP, 2.0, 80.0, 1)
