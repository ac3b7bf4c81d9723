"""Whether a freshly swapped-in model stays: a pure function of heartbeats and the time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import fmean

from edge.rollout.config import RollbackThresholds
from station.contracts import NodeHealth


@dataclass(frozen=True)
class Vitals:
    """What one heartbeat says about the frame loop."""

    at: datetime
    fps: float
    inference_ms: float
    cameras_down: int


def vitals_of(report: NodeHealth) -> Vitals:
    """The frame loop's figures of one heartbeat: fps over all cameras."""
    return Vitals(
        at=report.ts,
        fps=sum(c.fps for c in report.cameras),
        inference_ms=report.inference_ms,
        cameras_down=sum(not c.connected for c in report.cameras),
    )


class Verdict(StrEnum):
    """What to do with the new model now."""

    WATCH = "watch"
    KEEP = "keep"
    ROLL_BACK = "roll_back"


@dataclass(frozen=True)
class Decision:
    """A verdict and, for a rollback, why."""

    verdict: Verdict
    reason: str = ""


def decide(
    before: Sequence[Vitals],
    after: Sequence[Vitals],
    swapped_at: datetime,
    now: datetime,
    limits: RollbackThresholds,
) -> Decision:
    """A camera lost after the grace rolls back at once; frame rate and model time are judged
    on the whole window (one heartbeat without a finished frame is noise, not a regression):
    worse than before rolls back, else the model is kept."""
    judged_from = swapped_at + timedelta(seconds=limits.grace_s)
    until = judged_from + timedelta(seconds=limits.window_s)
    judged = [v for v in after if v.at >= judged_from]
    lost = _cameras_lost(before, judged, limits)
    if lost:
        return Decision(Verdict.ROLL_BACK, lost)
    if now < until:
        return Decision(Verdict.WATCH)
    if not judged:
        return Decision(Verdict.ROLL_BACK, "no heartbeat since the swap")
    slower = _slower(before, judged, limits)
    return Decision(Verdict.ROLL_BACK, slower) if slower else Decision(Verdict.KEEP)


def _cameras_lost(
    before: Sequence[Vitals], after: Sequence[Vitals], limits: RollbackThresholds
) -> str:
    down_before = max((v.cameras_down for v in before), default=0)
    down_after = max((v.cameras_down for v in after), default=0)
    if down_after > down_before + limits.max_cameras_down:
        return f"{down_after} camera(s) without frames, {down_before} before"
    return ""


def _slower(before: Sequence[Vitals], after: Sequence[Vitals], limits: RollbackThresholds) -> str:
    if not before:
        return ""
    fps_before, fps_after = fmean(v.fps for v in before), fmean(v.fps for v in after)
    if fps_before > 0 and fps_after < limits.min_fps_ratio * fps_before:
        return f"fps {fps_after:.2f} < {limits.min_fps_ratio} x {fps_before:.2f} before"
    ms_before, ms_after = (
        fmean(v.inference_ms for v in before),
        fmean(v.inference_ms for v in after),
    )
    if ms_before > 0 and ms_after > limits.max_inference_ratio * ms_before:
        return f"model {ms_after:.0f} ms > {limits.max_inference_ratio} x {ms_before:.0f} ms before"
    return ""
