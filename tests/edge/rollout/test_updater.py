"""The model updater at unit level: a scripted registry, scripted detectors, a hand clock."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from edge.errors import ModelUpdateError
from edge.rollout.config import RollbackThresholds, RolloutConfig
from edge.rollout.updater import Assignment, ModelUpdater
from station.contracts import CameraHealth, NodeHealth, RunningModel
from vision.detector import Detection, Detector
from vision.roles import Role
from vision.slot import DetectorSlot

WEIGHTS = b"weights of version two"
SHA = hashlib.sha256(WEIGHTS).hexdigest()


class Named:
    """A detector that marks each of its detections with its name."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def last_inference_ms(self) -> float:
        return 1.0

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        return [[Detection(Role.PERSON, self.name, 0.9, (0, 0, 1, 1))] for _ in frames]


class Registry:
    def __init__(self, data: bytes = WEIGHTS) -> None:
        self.data = data
        self.downloads = 0
        self.assigned = [
            Assignment(slot="detector", version="v2", sha256=SHA, format="pt", classes=["person"])
        ]

    def wanted(self) -> list[Assignment]:
        return self.assigned

    def download(self, version: str, stop: threading.Event) -> bytes:
        self.downloads += 1
        return self.data


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def beat(clock: Clock, fps: float) -> NodeHealth:
    camera = CameraHealth(camera_id="main", connected=True, fps=fps, reconnects=0)
    return NodeHealth(
        node_id="n",
        ts=clock.now,
        uptime_s=1,
        inference_ms=50,
        cpu_percent=1,
        memory_mb=1,
        outbox_depth=0,
        cameras=[camera],
    )


def make(
    tmp_path: Path, registry: Registry, clock: Clock, loaded: list[Path]
) -> tuple[ModelUpdater, DetectorSlot]:
    config = RolloutConfig(
        duty_url="https://duty.example",
        duty_token=SecretStr("uwsn_x"),
        dir=tmp_path / "m",
        rollback=RollbackThresholds(grace_s=2, window_s=10, min_fps_ratio=0.7),
    )
    slot = DetectorSlot(Named("old"))

    def load(path: Path, classes: list[str]) -> Detector:
        loaded.append(path)
        return Named("new")

    running = RunningModel(slot="detector", sha256="0" * 64)
    return ModelUpdater(slot, registry, load, config, running, clock), slot


def test_swaps_in_after_checking_the_hash_then_rolls_back_on_fewer_frames(tmp_path: Path) -> None:
    clock, registry, loaded = Clock(), Registry(), list[Path]()
    updater, slot = make(tmp_path, registry, clock, loaded)
    assert not updater.poll_once()  # nothing measured yet to compare with
    updater.observe(beat(clock, 4.0))
    assert updater.poll_once()
    assert loaded == [tmp_path / "m" / "v2.pt"]
    assert loaded[0].read_bytes() == WEIGHTS
    assert slot.detect([np.zeros((2, 2, 3))])[0][0].class_name == "new"
    assert updater.running() == [RunningModel(slot="detector", version="v2", sha256=SHA)]
    assert not updater.poll_once()  # on trial: nothing else starts
    for _ in range(9):
        clock.now += timedelta(seconds=1.5)
        updater.observe(beat(clock, 1.0))
    assert slot.detect([np.zeros((2, 2, 3))])[0][0].class_name == "old"
    [state] = updater.running()
    assert (state.version, state.rolled_back_from) == ("", "v2")
    assert state.rollback_reason == "fps 1.00 < 0.7 x 4.00 before"
    # A rolled-back version is not tried again until another one is assigned.
    assert not updater.poll_once()


def test_keeps_a_model_that_holds_up_and_reuses_the_download(tmp_path: Path) -> None:
    clock, registry, loaded = Clock(), Registry(), list[Path]()
    updater, slot = make(tmp_path, registry, clock, loaded)
    updater.observe(beat(clock, 4.0))
    assert updater.poll_once()
    for _ in range(10):
        clock.now += timedelta(seconds=1.5)
        updater.observe(beat(clock, 3.9))
    assert updater.running()[0].version == "v2"
    assert slot.detect([np.zeros((2, 2, 3))])[0][0].class_name == "new"
    assert registry.downloads == 1


def test_wrong_hash_is_refused_and_the_old_model_stays(tmp_path: Path) -> None:
    clock, registry, loaded = Clock(), Registry(b"tampered"), list[Path]()
    updater, slot = make(tmp_path, registry, clock, loaded)
    updater.observe(beat(clock, 4.0))
    with pytest.raises(ModelUpdateError, match="SHA-256"):
        updater.poll_once()
    assert loaded == []
    assert not (tmp_path / "m" / "v2.pt").exists()
    assert slot.detect([np.zeros((2, 2, 3))])[0][0].class_name == "old"


def test_no_frame_is_missed_while_the_model_is_swapped() -> None:
    slot = DetectorSlot(Named("old"))
    seen: list[str] = []
    stop = threading.Event()

    def frame_loop() -> None:
        while not stop.is_set():
            [found] = slot.detect([np.zeros((2, 2, 3))])
            seen.append(found[0].class_name)

    def wait_for(count: int) -> None:
        while len(seen) < count:
            time.sleep(0.001)

    loop = threading.Thread(target=frame_loop)
    loop.start()
    wait_for(100)
    old = slot.swap(Named("new"))
    wait_for(len(seen) + 100)
    stop.set()
    loop.join(10)
    assert isinstance(old, Named)
    assert old.name == "old"
    # Every frame got an answer: from the old model until the swap, the new one after.
    switch = seen.index("new")
    assert switch >= 100
    assert set(seen[:switch]) == {"old"}
    assert set(seen[switch:]) == {"new"}


def test_rollout_config_takes_only_the_nodes_own_credential() -> None:
    with pytest.raises(ValueError, match="own credential"):
        RolloutConfig(duty_url="https://duty.example", duty_token=SecretStr("admin-token"))
    with pytest.raises(ValueError, match="duty_url"):
        RolloutConfig(duty_url="ftp://duty.example", duty_token=SecretStr("uwsn_x"))
