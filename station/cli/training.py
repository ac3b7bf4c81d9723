"""`station export-training` and `station train`: judged alerts -> a dataset -> new weights,
kept only beside a dev-set report showing they are no worse than the current ones."""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from station.cli.language import _

log = logging.getLogger(__name__)


def add_export_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `station export-training`."""
    parser.add_argument("--out", required=True, help=_("folder to write the dataset to"))
    parser.add_argument(
        "--model", required=True, help=_("the model to train: its classes label the dataset")
    )
    parser.add_argument("--preload", help=_("module to import first (e.g. fire_detector)"))
    parser.add_argument(
        "--val", type=float, default=0.2, help=_("share of images held out for validation")
    )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `station train`."""
    parser.add_argument("data", help=_("data.yaml of a `station export-training` dataset"))
    parser.add_argument(
        "--model", required=True, help=_("current weights, or package:<mod>/<path>")
    )
    parser.add_argument("--preload", help=_("module to import first (e.g. fire_detector)"))
    parser.add_argument("--dev", required=True, help=_("dev-set manifest the model is judged on"))
    parser.add_argument("--media-root", help=_("folder the dev clips are relative to"))
    parser.add_argument("--out", required=True, help=_("folder for the new weights and report"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--imgsz", type=int, default=640, help=_("training input side"))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="cpu", help=_("cpu, 0, cuda:0, ..."))


def run_export_training(args: argparse.Namespace) -> int:
    """Export judged alerts as a dataset in the model's classes; 2 on bad input."""
    from station.duty.app import snapshot_storage
    from station.duty.db import make_engine
    from station.duty.errors import InvalidRequestError, UnavailableError
    from station.duty.reports.training_set import LabelSpace, export_training_set
    from station.duty.settings import DutySettings
    from vision.errors import TrainingError
    from vision.training import class_table

    try:
        table = class_table(args.model, preload=args.preload)
        settings = DutySettings()
        engine = make_engine(settings.database_url)
        summary = export_training_set(
            engine,
            snapshot_storage(settings, engine),
            Path(args.out),
            LabelSpace(table.names, table.roles),
            args.val,
            actor=f"cli:{getpass.getuser()}",
        )
    except (TrainingError, InvalidRequestError, UnavailableError) as err:
        log.error("%s", err)
        return 2
    log.info(
        _("%d train and %d val image(s) in %s; skipped %d without snapshot, %d without boxes"),
        summary.images["train"],
        summary.images["val"],
        args.out,
        summary.without_snapshot,
        summary.without_boxes,
    )
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Fine-tune, judge on the dev set, keep the weights only if no worse: 0 kept, 1 not, 2 bad
    input. Prints the report's path."""
    from vision.errors import ManifestError, ModelLoadError, TrainingError
    from vision.training import TrainingRun, dev_reports, fine_tune, judge

    out = Path(args.out)
    try:
        run = TrainingRun(
            epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, device=args.device
        )
        work = out / "work"
        candidate = fine_tune(args.model, Path(args.data), work, run, args.preload)
        media = Path(args.media_root) if args.media_root else None
        current, new = dev_reports(Path(args.dev), args.model, candidate, media)
    except (TrainingError, ManifestError, ModelLoadError, ValueError) as err:
        log.error("%s", err)
        return 2
    verdict = judge(current, new)
    digest = _sha256(candidate)
    report: dict[str, Any] = {
        "base_model": args.model,
        "base_sha256": _sha256(work / f"start{candidate.suffix}"),
        "sha256": digest,
        "dataset": str(Path(args.data).resolve()),
        "dev_manifest": str(Path(args.dev).resolve()),
        "run": run.model_dump(),
        "no_worse": verdict.no_worse,
        "regressions": verdict.regressions,
        "current": current,
        "candidate": new,
    }
    stem = f"{Path(args.model).stem}-{digest[:12]}"
    if verdict.no_worse:
        shutil.copy2(candidate, out / f"{stem}.pt")
        report["weights"] = f"{stem}.pt"
    name = f"{stem}.report.json" if verdict.no_worse else f"{stem}.rejected.json"
    (out / name).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)
    print(out / name)  # noqa: T201  (the report's path is the command's output)
    if not verdict.no_worse:
        log.warning(_("not kept, worse on the dev set: %s"), "; ".join(verdict.regressions))
        return 1
    return 0


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
