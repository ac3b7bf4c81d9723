"""Fine-tune a detection model on an exported training set, and judge the result against the
current model on the dev set: new weights are kept only when they are no worse."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vision.detector import InputSize
from vision.errors import TrainingError
from vision.evaluate import Evaluator, Manifest, load_manifest, media_root_for, score
from vision.events import Hazard
from vision.roles import Role, RoleMap
from vision.weights import resolve_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassTable:
    """A model's own class list in index order, and the role of each class that has one."""

    names: list[str]
    roles: dict[str, str]


def class_table(
    model: str, roles: Mapping[str, Role | None] | None = None, preload: str | None = None
) -> ClassTable:
    """Read a model's classes (no inference) and the roles vision gives them."""
    with _loaded(model, preload) as yolo:
        table: dict[int, str] = dict(yolo.names)
    names = [table[i] for i in sorted(table)]
    role_map = RoleMap(roles)
    found = {name: role_map.role_for(name) for name in names}
    return ClassTable(names, {n: r.value for n, r in found.items() if r is not None})


class TrainingRun(BaseModel):
    """How to fine-tune: few epochs at a small size on CPU is a smoke run; a real run is more."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=30, ge=1, le=1000, description="Passes over the training set.")
    imgsz: int = Field(default=640, ge=32, le=4096, multiple_of=32, description="Input side.")
    batch: int = Field(default=8, ge=1, le=512, description="Images per step.")
    device: str = Field(default="cpu", description="Torch device: cpu, 0, cuda:0, ...")
    seed: int = Field(default=0, ge=0, description="Seed, so that a run can be repeated.")


def fine_tune(
    model: str, data_yaml: Path, work_dir: Path, run: TrainingRun, preload: str | None = None
) -> Path:
    """Fine-tune `model` on the YOLO dataset `data_yaml` under `work_dir`; return the weights."""
    if not data_yaml.is_file():
        raise TrainingError(f"{data_yaml}: no such dataset file")
    work_dir.mkdir(parents=True, exist_ok=True)
    with _loaded(model, preload, copy_to=work_dir) as yolo:
        try:
            yolo.train(
                data=str(data_yaml.resolve()),
                epochs=run.epochs,
                imgsz=run.imgsz,
                batch=run.batch,
                device=run.device,
                seed=run.seed,
                workers=0,
                project=str(work_dir.resolve()),
                name="run",
                exist_ok=True,
                plots=False,
                amp=False,
                verbose=False,
            )
        except Exception as err:
            raise TrainingError(f"training on {data_yaml} failed: {err}") from err
    weights = work_dir / "run" / "weights"
    for name in ("best.pt", "last.pt"):
        if (weights / name).is_file():
            return weights / name
    raise TrainingError(f"training wrote no weights under {weights}")


@dataclass(frozen=True)
class Judgement:
    """Whether a candidate is no worse than the current model on the dev set, and why not."""

    no_worse: bool
    regressions: list[str]


def judge(current: Mapping[str, Any], candidate: Mapping[str, Any]) -> Judgement:
    """No worse: per kind, as many true events found and no more false ones; no larger
    count error. Both are reports of `vision.evaluate` on the same clips."""
    regressions: list[str] = []
    old_kinds, new_kinds = current.get("kinds", {}), candidate.get("kinds", {})
    for kind in sorted(set(old_kinds) | set(new_kinds)):
        old, new = _tally(old_kinds.get(kind)), _tally(new_kinds.get(kind))
        if new[0] < old[0]:
            regressions.append(f"{kind}: found {new[0]} true events, the current model {old[0]}")
        if new[1] > old[1]:
            regressions.append(f"{kind}: {new[1]} false detections, the current model {old[1]}")
    old_error = current.get("count_mean_abs_error")
    new_error = candidate.get("count_mean_abs_error")
    if old_error is not None and new_error is not None and new_error > old_error:
        regressions.append(f"count error {new_error:.2f}, the current model {old_error:.2f}")
    return Judgement(not regressions, regressions)


def _tally(kind: Mapping[str, Any] | None) -> tuple[int, int]:
    if not kind:
        return 0, 0
    return int(kind["found"]), int(kind["detections"]) - int(kind["true_detections"])


def dev_slots(manifest_path: Path, current: str) -> tuple[Manifest, list[int]]:
    """Read a dev manifest and find where it uses `current`; refuse one that does not."""
    manifest = load_manifest(manifest_path)
    base = manifest_path.resolve().parent
    wanted = resolve_weights(current)
    slots = [i for i, s in enumerate(manifest.models) if resolve_weights(s.model, base) == wanted]
    if not slots:
        raise TrainingError(f"{manifest_path} does not use {current}: nothing to compare with")
    return manifest, slots


def dev_reports(
    manifest_path: Path,
    current: str,
    candidate: Path,
    media_root: Path | None = None,
    imgsz: InputSize | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Evaluate the dev manifest's clips that `current` serves, as they are and with the
    candidate in its place; `imgsz` (an export's fixed input) applies to both."""
    manifest, slots = dev_slots(manifest_path, current)
    base = manifest_path.resolve().parent
    root = media_root_for(manifest_path, manifest, media_root)
    sized = {} if imgsz is None else {"imgsz": imgsz}
    before, after = list(manifest.models), list(manifest.models)
    for i in slots:
        # The candidate keeps its slot's settings: confidence, roles, preload.
        before[i] = before[i].model_copy(update=sized)
        after[i] = after[i].model_copy(update={"model": str(candidate.resolve())} | sized)
    # Only the clips this model is judged on: the others' results cannot change.
    clips = [c for c in manifest.clips if _serves(manifest.models[slots[0]].hazards, c.hazards)]
    reports = []
    for models in (before, after):
        which = manifest.model_copy(update={"models": models, "clips": clips})
        evaluator = Evaluator(which, base)
        results = [evaluator.run_clip(clip, root) for clip in which.clips]
        reports.append(score(which.clips, results))
    return reports[0], reports[1]


def _serves(model: frozenset[Hazard] | None, clip: frozenset[Hazard] | None) -> bool:
    return model is None or clip is None or bool(model & clip)


@contextlib.contextmanager
def _loaded(model: str, preload: str | None, copy_to: Path | None = None) -> Iterator[Any]:
    # Nothing may be fetched or pip-installed; ultralytics reads these when first imported.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    source = resolve_weights(model)
    if not source.is_file():
        raise TrainingError(f"model file {source} does not exist")
    if preload:
        import importlib  # noqa: PLC0415

        importlib.import_module(preload)
    if copy_to is not None:
        # Weights may live in a read-only site-packages: train a copy.
        source = Path(shutil.copy2(source, copy_to / f"start{source.suffix}"))
    from ultralytics.models.yolo.model import YOLO  # noqa: PLC0415

    try:
        yolo = YOLO(str(source), task="detect")
    except Exception as err:
        raise TrainingError(f"cannot load model file {source}: {err}") from err
    yield yolo
