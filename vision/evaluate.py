"""Event-level evaluation over a manifest of clips: precision, recall, delay, count error."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import cv2
import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vision.errors import ManifestError
from vision.events import CAMERA_HAZARDS, Hazard, Phase
from vision.pipeline import AnalysisSettings, CameraFrame, ModelUse, Pipeline
from vision.weights import ModelSpec, load_detector

log = logging.getLogger(__name__)

_STILL_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# A detection up to this long before the truth's start still counts (DESIGN.md).
_EARLY_S = 1.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TruthEvent(_Strict):
    """An event a person can see in the clip, from `start` to `end` seconds."""

    kind: Hazard = Field(description="Event kind.")
    start: float = Field(ge=0, description="Second the event becomes visible.")
    end: float = Field(ge=0, description="Second it is over (or the clip ends).")


class TruthCount(_Strict):
    """The number of people in the counted zone at a moment."""

    at: float = Field(ge=0, description="Second of the clip (0 for a still image).")
    persons: int = Field(ge=0, description="People truly there.")


class Clip(_Strict):
    """One clip or still image and what it truly shows."""

    path: str = Field(min_length=1, description="Media file, relative to the media root.")
    events: list[TruthEvent] = Field(default_factory=list, description="True events.")
    counts: list[TruthCount] = Field(default_factory=list, description="True people counts.")
    hazards: frozenset[Hazard] | None = Field(
        default=None, description="Kinds judged on this clip; null: all."
    )


class Manifest(_Strict):
    """Clips, the models and the analysis settings to evaluate them with."""

    media_root: str | None = Field(
        default=None, description="Folder clip paths are relative to (relative to the manifest)."
    )
    fps: float = Field(default=4.0, gt=0, le=60, description="Frames analysed per clip second.")
    still_s: float = Field(default=6.0, gt=0, le=600, description="Seconds a still is shown.")
    models: list[ModelSpec] = Field(min_length=1, description="Models to run.")
    analysis: AnalysisSettings = Field(
        default_factory=AnalysisSettings, description="Per-camera analysis settings."
    )
    clips: list[Clip] = Field(min_length=1, description="The clips.")


@dataclass
class ClipResult:
    """What the pipeline raised on one clip."""

    path: str
    detections: list[tuple[Hazard, float]] = field(default_factory=list)
    counts: list[tuple[float, int, int]] = field(default_factory=list)  # at, truth, predicted
    judged: frozenset[Hazard] = frozenset()
    notes: list[EventNote] = field(default_factory=list)  # one per detection, same order


@dataclass(frozen=True)
class EventNote:
    """Why a detection was raised: its severity and the evidence that confirmed it."""

    severity: str
    evidence: str


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Manifest.model_validate(raw)
    except OSError as err:
        raise ManifestError(f"{path}: cannot read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ManifestError(f"{path}: not valid YAML: {err}") from err
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in err.errors()
        )
        raise ManifestError(f"{path}: {problems}") from err


def media_root_for(manifest_path: Path, manifest: Manifest, override: Path | None) -> Path:
    """Pick the media folder: the option, else UWS_MEDIA_DIR, else the manifest's own."""
    if override is not None:
        return override.resolve()
    env = os.environ.get("UWS_MEDIA_DIR")
    if env:
        return Path(env).resolve()
    base = manifest_path.resolve().parent
    return (base / manifest.media_root).resolve() if manifest.media_root else base


def sample_frames(path: Path, fps: float, still_s: float) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (second, BGR frame) at `fps`; a still image is repeated for `still_s` seconds."""
    if path.suffix.lower() in _STILL_SUFFIXES:
        image = cv2.imread(str(path))
        if image is None:
            raise ManifestError(f"{path}: cannot read image")
        for step in range(int(still_s * fps)):
            yield step / fps, image
        return
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ManifestError(f"{path}: cannot open video")
    native = capture.get(cv2.CAP_PROP_FPS) or 25.0
    try:
        index, next_at = 0, 0.0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            at = index / native
            index += 1
            if at + 1e-9 >= next_at:
                next_at += 1.0 / fps
                yield at, frame
    finally:
        capture.release()


class Evaluator:
    """Loads the manifest's models once and runs every clip through a fresh pipeline."""

    def __init__(self, manifest: Manifest, manifest_dir: Path) -> None:
        """Load the models (raises vision.detector.ModelLoadError when one cannot be)."""
        self.manifest = manifest
        self._models = [(spec, load_detector(spec, manifest_dir)) for spec in manifest.models]

    def run_clip(self, clip: Clip, media_root: Path) -> ClipResult:
        """Analyse one clip; return its NEW events and its counts."""
        # Presence is occupancy, not an incident: it is never scored as a detection.
        judged = clip.hazards if clip.hazards is not None else CAMERA_HAZARDS - {Hazard.PERSON}
        settings = self.manifest.analysis.model_copy(
            update={"hazards": self.manifest.analysis.hazards & judged}
        )
        uses = [
            ModelUse(detector)
            for spec, detector in self._models
            if spec.hazards is None or spec.hazards & settings.hazards
        ]
        pipeline = Pipeline(uses, {"clip": settings})
        result = ClipResult(clip.path, judged=settings.hazards)
        wanted = sorted(clip.counts, key=lambda c: c.at)
        occupancy: list[tuple[float, int]] = []
        frames = sample_frames(media_root / clip.path, self.manifest.fps, self.manifest.still_s)
        for at, image in frames:
            ts = _EPOCH + timedelta(seconds=at)
            [seen] = pipeline.analyse([CameraFrame("clip", ts, image)])
            for event in seen.events:
                if event.phase is Phase.NEW:
                    result.detections.append((event.kind, at))
                    result.notes.append(EventNote(event.severity.value, event.evidence))
            occupancy.append((at, seen.occupancy))
        if not occupancy:
            raise ManifestError(f"{clip.path}: no frames")
        for truth in wanted:
            at, predicted = min(occupancy, key=lambda o: abs(o[0] - truth.at))
            result.counts.append((truth.at, truth.persons, predicted))
        return result


@dataclass
class KindScore:
    """Event-level figures of one kind."""

    detections: int = 0
    true_detections: int = 0
    truths: int = 0
    found: int = 0
    delays: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return precision, recall and median delay (None where undefined)."""
        return {
            "detections": self.detections,
            "true_detections": self.true_detections,
            "truths": self.truths,
            "found": self.found,
            "precision": self.true_detections / self.detections if self.detections else None,
            "recall": self.found / self.truths if self.truths else None,
            "median_delay_s": median(self.delays) if self.delays else None,
        }


def score(clips: list[Clip], results: list[ClipResult]) -> dict[str, Any]:
    """Return per-kind precision/recall/median delay, count errors and per-clip detail."""
    kinds: dict[Hazard, KindScore] = {}
    errors: list[int] = []
    detail = []
    for clip, result in zip(clips, results, strict=True):
        for truth in clip.events:
            if truth.kind in result.judged:
                kinds.setdefault(truth.kind, KindScore()).truths += 1
        _match(clip, result, kinds)
        errors += [abs(p - t) for _, t, p in result.counts]
        detail.append(
            {
                "path": clip.path,
                "events": _events(result),
                "counts": [{"at": a, "truth": t, "predicted": p} for a, t, p in result.counts],
            }
        )
    return {
        "kinds": {k.value: s.as_dict() for k, s in sorted(kinds.items())},
        "count_abs_errors": errors,
        "count_mean_abs_error": sum(errors) / len(errors) if errors else None,
        "clips": detail,
    }


def _events(result: ClipResult) -> list[dict[str, Any]]:
    """Return a clip's detections for the report, each with its severity and evidence."""
    out: list[dict[str, Any]] = []
    for i, (kind, at) in enumerate(result.detections):
        event: dict[str, Any] = {"kind": kind.value, "at_s": round(at, 2)}
        if i < len(result.notes):
            event |= {"severity": result.notes[i].severity, "evidence": result.notes[i].evidence}
        out.append(event)
    return out


def _match(clip: Clip, result: ClipResult, kinds: dict[Hazard, KindScore]) -> None:
    """A detection is true inside [start - 1 s, end] of a true event of its kind."""
    found: set[int] = set()
    for kind, at in result.detections:
        tally = kinds.setdefault(kind, KindScore())
        tally.detections += 1
        for i, truth in enumerate(clip.events):
            if truth.kind is kind and truth.start - _EARLY_S <= at <= truth.end:
                tally.true_detections += 1
                if i not in found:
                    found.add(i)
                    tally.found += 1
                    tally.delays.append(max(at - truth.start, 0.0))
                break


def evaluate(
    manifest_path: Path,
    media_root: Path | None = None,
    progress: Callable[[list[Clip]], Any] | None = None,
) -> dict[str, Any]:
    """Evaluate a manifest; `progress` wraps the clip list (e.g. tqdm) for a progress bar."""
    manifest = load_manifest(manifest_path)
    root = media_root_for(manifest_path, manifest, media_root)
    missing = [c.path for c in manifest.clips if not (root / c.path).is_file()]
    if missing:
        raise ManifestError(f"{manifest_path}: not found under {root}: {', '.join(missing)}")
    evaluator = Evaluator(manifest, manifest_path.resolve().parent)
    clips = manifest.clips
    results = [evaluator.run_clip(c, root) for c in (progress(clips) if progress else clips)]
    report = score(clips, results)
    report["media_root"] = str(root)
    return report
