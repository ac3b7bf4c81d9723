"""The fall and fire logic on real clips with the real models: short spans, sampled at 4 fps.

Harder variants (dark, small) are made on the fly with bench.variants' transforms; the dev
clips (../shared/media/dev) supply a candle, exhaled vapour and exercise on the floor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bench.variants import darken, shrink
from vision.detector import Detector
from vision.evaluate import sample_frames
from vision.events import Hazard, HazardEvent, Phase, Severity
from vision.fire import FireSettings
from vision.flicker import grey_frame, region_flicker
from vision.pipeline import AnalysisSettings, CameraFrame, ModelUse, Pipeline
from vision.roles import Role
from vision.weights import ModelSpec, load_detector

pytestmark = pytest.mark.integration
T0 = datetime(2025, 6, 1, tzinfo=UTC)
FALL_MODEL = ModelSpec(model="package:fall_detection/models/best.pt")
FIRE_MODEL = ModelSpec(
    model="package:fire_detector/models/light_yolov8_flame.pt", preload="fire_detector"
)
Transform = Callable[[np.ndarray], np.ndarray]


@pytest.fixture(scope="module")
def fall_model() -> Detector:
    return load_detector(FALL_MODEL)


@pytest.fixture(scope="module")
def fire_model() -> Detector:
    return load_detector(FIRE_MODEL)


def frames(path: Path, start: float, stop: float) -> Iterator[tuple[float, np.ndarray]]:
    """Frames of a clip at 4 fps between two seconds."""
    for at, image in sample_frames(path, 4.0, 6.0):
        if at > stop:
            return
        if at >= start:
            yield at, image


def new_events(
    model: Detector,
    path: Path,
    span: tuple[float, float],
    hazards: set[Hazard],
    transform: Transform | None = None,
) -> list[tuple[float, HazardEvent]]:
    """Run one camera with product defaults over a span; (second, event) of each NEW."""
    settings = AnalysisSettings(hazards=frozenset(hazards))
    pipeline = Pipeline([ModelUse(model)], {"cam": settings})
    out = []
    for at, image in frames(path, *span):
        shown = transform(image) if transform else image
        [result] = pipeline.analyse([CameraFrame("cam", T0 + timedelta(seconds=at), shown)])
        out += [(at, e) for e in result.events if e.phase is Phase.NEW]
    return out


@pytest.mark.parametrize(
    "transform", [darken(0.25, 4.0), shrink(0.5)], ids=["dark room", "small in the frame"]
)
def test_fall_found_within_3_s_of_lying_in_a_dark_room_and_far_away(
    fall_model: Detector, media_dir: Path, transform: Transform
) -> None:
    # The worker trips at 3.8 s and is on the floor from 4.0 s; the span ends 3 s later.
    found = new_events(
        fall_model, media_dir / "fall" / "fall.mp4", (2.0, 7.0), {Hazard.FALL}, transform
    )
    assert [(e.kind, e.severity) for _, e in found] == [(Hazard.FALL, Severity.CRITICAL)]
    at, event = found[0]
    assert 4.0 <= at <= 7.0
    assert event.evidence.startswith("descent ")


def test_exercise_lying_on_the_floor_is_no_fall(fall_model: Detector, media_dir: Path) -> None:
    path = media_dir / "dev" / "adl" / "situps_floor_mat.mp4"
    assert new_events(fall_model, path, (0.0, 12.0), {Hazard.FALL}) == []


def test_candle_stays_silent(fire_model: Detector, media_dir: Path) -> None:
    path = media_dir / "dev" / "fire_negative" / "candle_white_black_background.mp4"
    assert new_events(fire_model, path, (0.0, 12.0), {Hazard.FIRE, Hazard.SMOKE}) == []


def test_exhaled_vapour_is_no_smoke(fire_model: Detector, media_dir: Path) -> None:
    path = media_dir / "dev" / "fire_negative" / "vape_exhale_closeup_1.mp4"
    assert new_events(fire_model, path, (0.0, 8.0), {Hazard.FIRE, Hazard.SMOKE}) == []


def test_fire_clip_raises_fire_with_its_evidence(fire_model: Detector, media_dir: Path) -> None:
    path = media_dir / "fire" / "cctv_fire_testvideo.mp4"
    found = new_events(fire_model, path, (0.0, 5.0), {Hazard.FIRE})
    assert [e.kind for _, e in found] == [Hazard.FIRE]
    assert "flicker" in found[0][1].evidence


def test_flicker_of_a_real_fire_holds_when_it_is_small_in_the_frame(
    fire_model: Detector, media_dir: Path
) -> None:
    # The same flames at full size and shrunk to a quarter both flicker above the threshold:
    # each box is compared at its own scale (a whole-frame thumbnail loses small flames).
    least = FireSettings().fire_flicker
    path = media_dir / "fire" / "cctv_fire_testvideo.mp4"
    for transform in (None, shrink(0.25)):
        previous, changes = None, []
        for _, image in frames(path, 0.0, 3.0):
            shown = transform(image) if transform else image
            grey, scale = grey_frame(shown)
            boxes = [d.box for d in fire_model.detect([shown])[0] if d.role is Role.FIRE]
            if previous is not None and boxes:
                change = region_flicker(previous, grey, boxes, scale)
                changes += [] if change is None else [change]
            previous = grey
        assert len(changes) >= 4
        assert float(np.mean(changes)) >= least
