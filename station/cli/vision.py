"""`station eval` and `station export`: argument handling, printing and exit codes."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `station eval`."""
    parser.add_argument("manifest", help="manifest YAML (format in DESIGN.md)")
    parser.add_argument(
        "--media-root",
        help="folder clip paths are relative to (default: UWS_MEDIA_DIR, "
        "else the manifest's media_root)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `station export`."""
    parser.add_argument("model", help="weights file, or package:<module>/<path>")
    parser.add_argument("--format", default="onnx", choices=["onnx", "openvino", "engine"])
    parser.add_argument("--out", default="var/models", help="folder for the export")
    parser.add_argument("--imgsz", type=int, default=640, help="input size, pixels")
    parser.add_argument("--half", action="store_true", help="FP16 (GPU formats)")
    parser.add_argument("--batch", type=int, default=1, help="largest batch (cameras)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda:0, ...")
    parser.add_argument("--preload", help="module to import first (e.g. fire_detector)")


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate a manifest and print the report as JSON; 2 on bad input."""
    _offline()
    from tqdm import tqdm

    from vision.errors import ManifestError, ModelLoadError
    from vision.evaluate import Clip, evaluate

    media = Path(args.media_root) if args.media_root else None

    def bar(clips: list[Clip]) -> tqdm[Clip]:
        return tqdm(clips, desc="clips", unit="clip", file=sys.stderr, disable=args.no_progress)

    try:
        report = evaluate(Path(args.manifest), media, progress=bar)
    except (ManifestError, ModelLoadError) as err:
        log.error("%s", err)
        return 2
    print(json.dumps(report, indent=2))  # noqa: T201  (the report is the command's output)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Export a model and print the path to put in configuration; 2 on failure."""
    _offline()
    from vision.errors import ExportError, ModelLoadError
    from vision.export import ExportFormat, export_model

    if args.batch < 1 or args.imgsz < 32:
        log.error("--batch must be at least 1 and --imgsz at least 32")
        return 2
    try:
        with _quiet_ultralytics():
            written = export_model(
                args.model,
                Path(args.out),
                ExportFormat(args.format),
                imgsz=args.imgsz,
                half=args.half,
                batch=args.batch,
                device=args.device,
                preload=args.preload,
            )
    except (ExportError, ModelLoadError, ImportError) as err:
        log.error("%s", err)
        return 2
    print(written)  # noqa: T201
    return 0


@contextlib.contextmanager
def _quiet_ultralytics() -> Iterator[None]:
    """Silence ultralytics' progress lines, which it logs to stdout: stdout is for the result."""
    from ultralytics.utils import LOGGER

    level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)
    try:
        yield
    finally:
        LOGGER.setLevel(level)


def _offline() -> None:
    # ultralytics reads these when first imported: nothing may be fetched or pip-installed.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
