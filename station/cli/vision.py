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
from typing import Any, TextIO

from station.cli.language import _

log = logging.getLogger(__name__)


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `station eval`."""
    parser.add_argument("manifest", help=_("manifest YAML (format in DESIGN.md)"))
    parser.add_argument(
        "--media-root",
        help=_(
            "folder clip paths are relative to (default: UWS_MEDIA_DIR, "
            "else the manifest's media_root)"
        ),
    )
    parser.add_argument("--no-progress", action="store_true", help=_("no progress bar"))


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `station export`."""
    parser.add_argument("model", help=_("weights file, or package:<module>/<path>"))
    parser.add_argument("--format", default="onnx", choices=["onnx", "openvino", "engine"])
    parser.add_argument("--out", default="var/models", help=_("folder for the export"))
    parser.add_argument(
        "--imgsz",
        type=_input_size,
        default=640,
        help=_("input size: a square side (640) or HEIGHT,WIDTH of the cameras' shape (384,640)"),
    )
    parser.add_argument(
        "--int8",
        action="store_true",
        help=_("OpenVINO INT8, calibrated on frames of the --calibrate clips (local, no download)"),
    )
    parser.add_argument(
        "--calibrate", action="append", default=[], help=_("clip to calibrate INT8 on (repeatable)")
    )
    parser.add_argument("--half", action="store_true", help=_("FP16 (GPU formats)"))
    parser.add_argument("--batch", type=int, default=1, help=_("largest batch (cameras)"))
    parser.add_argument("--device", default="cpu", help=_("cpu, cuda:0, ..."))
    parser.add_argument("--preload", help=_("module to import first (e.g. fire_detector)"))
    parser.add_argument(
        "--dev",
        help=_(
            "dev-set manifest that uses the model: judge the export beside its source on it "
            "and keep it only if no worse"
        ),
    )
    parser.add_argument("--media-root", help=_("folder the --dev manifest's clips are relative to"))


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
    from vision.export import Calibration, ExportFormat, export_model

    if args.batch < 1:
        log.error(_("--batch must be at least 1"))
        return 2
    if args.int8 and (args.format != "openvino" or not args.calibrate):
        log.error(_("--int8 needs --format openvino and at least one --calibrate clip"))
        return 2
    if args.dev and not _dev_manifest_usable(args):
        return 2
    int8 = Calibration(tuple(Path(c) for c in args.calibrate)) if args.int8 else None
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
                int8=int8,
            )
    except (ExportError, ModelLoadError, ImportError) as err:
        log.error("%s", err)
        return 2
    if args.dev:
        judged = _judge_export(args, written)
        if judged != 0:
            return judged
    print(written)  # noqa: T201
    return 0


def _dev_manifest_usable(args: argparse.Namespace) -> bool:
    """Check the --dev manifest before the long export: it must read and use the model."""
    from vision.errors import ManifestError, ModelLoadError, TrainingError
    from vision.training import dev_slots

    try:
        dev_slots(Path(args.dev), args.model)
    except (ManifestError, ModelLoadError, TrainingError) as err:
        log.error("%s", err)
        return False
    return True


def _judge_export(args: argparse.Namespace, written: Path) -> int:
    """Evaluate the export beside its source on the dev set; write the report beside the
    export; 0 no worse, 1 worse (the export must not be deployed), 2 bad input."""
    from vision.errors import ManifestError, ModelLoadError, TrainingError
    from vision.training import dev_reports, judge

    media = Path(args.media_root) if args.media_root else None
    try:
        with _quiet_ultralytics():
            source, export = dev_reports(Path(args.dev), args.model, written, media, args.imgsz)
    except (ManifestError, ModelLoadError, TrainingError) as err:
        log.error("%s", err)
        return 2
    verdict = judge(source, export)
    report = {
        "source": args.model,
        "export": str(written),
        "format": args.format + ("-int8" if args.int8 else ""),
        "dev_manifest": str(Path(args.dev).resolve()),
        "no_worse": verdict.no_worse,
        "regressions": verdict.regressions,
        "source_report": source,
        "export_report": export,
    }
    path = written.parent / f"{written.name}.dev.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    for kind in sorted(set(source["kinds"]) | set(export["kinds"])):
        log.info(
            _("%s on the dev set: source %s, export %s"),
            kind,
            _tally(source["kinds"].get(kind)),
            _tally(export["kinds"].get(kind)),
        )
    if not verdict.no_worse:
        log.error(
            _("the export is worse than its source on the dev set, do not deploy it: %s (%s)"),
            "; ".join(verdict.regressions),
            path,
        )
        return 1
    log.info(_("the export is no worse than its source on the dev set (%s)"), path)
    return 0


def _tally(kind: dict[str, Any] | None) -> str:
    if not kind:
        return _("none")
    false = kind["detections"] - kind["true_detections"]
    return _("found {found}/{truths}, {false} false").format(
        found=kind["found"], truths=kind["truths"], false=false
    )


@contextlib.contextmanager
def _quiet_ultralytics() -> Iterator[None]:
    """Silence ultralytics' and NNCF's progress lines on stdout: stdout is for the result."""
    # Its first import on a machine announces the settings file it makes, on stdout.
    with contextlib.redirect_stdout(sys.stderr):
        from ultralytics.utils import LOGGER

    loggers = [LOGGER, logging.getLogger("nncf")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    # Their warnings still matter, on stderr: the handlers hold stdout itself, which
    # redirect_stdout does not reach.
    streams = [h for logger in loggers for h in logger.handlers if type(h) is logging.StreamHandler]
    previous = [_point_at(handler, sys.stderr) for handler in streams]
    try:
        # NNCF draws its progress bars on stdout: the path printed after must be all there is.
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        for handler, stream in zip(streams, previous, strict=True):
            _point_at(handler, stream)


def _point_at(handler: logging.StreamHandler[TextIO], stream: TextIO) -> TextIO:
    """Point a handler at another stream and return the one it held."""
    # Not setStream: it flushes the old stream first, which a test runner may have closed.
    old, handler.stream = handler.stream, stream
    return old


def _offline() -> None:
    # ultralytics reads these when first imported: nothing may be fetched or pip-installed.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")


def _input_size(text: str) -> int | tuple[int, int]:
    """Parse '640' or '384,640' (height, width); sides are multiples of 32 from 32 to 4096."""
    try:
        sides = [int(part) for part in text.split(",")]
    except ValueError as err:
        wrong = _("{text} is not a size like 640 or 384,640").format(text=repr(text))
        raise argparse.ArgumentTypeError(wrong) from err
    if len(sides) not in (1, 2) or any(s < 32 or s > 4096 or s % 32 for s in sides):
        wrong = _("{text}: sides must be multiples of 32, 32..4096").format(text=repr(text))
        raise argparse.ArgumentTypeError(wrong)
    return sides[0] if len(sides) == 1 else (sides[0], sides[1])
