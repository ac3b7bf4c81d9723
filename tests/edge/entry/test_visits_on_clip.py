"""Visits end on a real clip: the node's room watcher, the real model and the crowd clip."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest

from edge.entry.controller import EntryConfig, EntryController
from edge.entry.store import EntryStore
from edge.node import room_watcher
from station.contracts import Message, Visit, VisitMethod
from station.tokens import new_private_key, public_key_of
from vision.detector import YoloDetector
from vision.pipeline import AnalysisSettings, CameraFrame, ModelUse, Pipeline
from vision.roles import Role, RoleMap

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class _Sink:
    def __init__(self) -> None:
        self.visits: list[Visit] = []

    def send(self, topic: str, message: Message | bytes, retain: bool = False) -> int:
        assert isinstance(message, Visit)
        self.visits.append(message)
        return len(self.visits)


class _Door:
    def request_unlock(self, reason: str) -> None:
        """The lock is not part of this test."""

    def stands_open(self) -> bool:
        """The door is closed and locked between entries here."""
        return False


def _frames(clip: Path, start_s: float, end_s: float, step_s: float) -> list[CameraFrame]:
    capture = cv2.VideoCapture(str(clip))
    frames = []
    at = start_s
    while at < end_s:
        capture.set(cv2.CAP_PROP_POS_MSEC, at * 1000)
        ok, image = capture.read()
        if not ok:
            break
        frames.append(CameraFrame("door", START + timedelta(seconds=at), image))
        at += step_s
    capture.release()
    return frames


@pytest.mark.integration
def test_the_count_dropping_after_an_opening_ends_visits_and_not_before(
    tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    clip = media_dir / "crowd" / "people1.mp4"
    now = [START]
    config = EntryConfig(
        station_id="st-1",
        public_key=public_key_of(new_private_key()),
        state_path=tmp_path / "entry.sqlite",
        exit_window_s=20,
    )
    store = EntryStore(config.state_path)
    for i in range(3):
        store.keep_open_visit(
            Visit(
                visit_id=f"v-{i}",
                node_id="node-1",
                method=VisitMethod.QR,
                entered_at=START - timedelta(minutes=10 - i),
            )
        )
    sink = _Sink()
    controller = EntryController("node-1", config, store, _Door(), sink, lambda: now[0])
    detector = YoloDetector(
        models_dir / "coco" / "yolov8n_int8.tflite", roles=RoleMap({"person": Role.PERSON})
    )
    pipeline = Pipeline([ModelUse(detector)], {"door": AnalysisSettings(hazards=frozenset())})
    watch = room_watcher(controller, "door")
    counts: list[int] = []

    def play(frames: list[CameraFrame]) -> None:
        for frame in frames:
            now[0] = frame.ts
            (result,) = pipeline.analyse([frame])
            counts.append(result.occupancy)
            watch(result)

    # The street empties from about ten people while the door stays shut: nobody left.
    play(_frames(clip, 0, 13, 1.0))
    assert max(counts) - counts[-1] >= 2, counts
    assert len(controller.inside()) == 3
    # The door opens, and the count drops in the next seconds: the longest stays end.
    del counts[:-1]  # the count the door opened on
    now[0] = START + timedelta(seconds=22)
    controller.door_changed(True)
    play(_frames(clip, 22, 29, 0.5))
    left = sum(max(0, a - b) for a, b in itertools.pairwise(counts))
    ended = [v.visit_id for v in sink.visits if v.exited_at is not None]
    assert left >= 1, counts
    assert ended == [f"v-{i}" for i in range(min(left, 3))]
    assert [v.visit_id for v in store.open_visits()] == [f"v-{i}" for i in range(min(left, 3), 3)]
