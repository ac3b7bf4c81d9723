"""Export a model for deployment (ONNX, OpenVINO, TensorRT) into a folder the detector loads."""

from __future__ import annotations

import logging
import os
import shutil
from enum import StrEnum
from pathlib import Path
from typing import Any

from vision.errors import ExportError, ModelLoadError
from vision.weights import resolve_weights

log = logging.getLogger(__name__)


class ExportFormat(StrEnum):
    """Deployment formats; TensorRT engines are built on the device that runs them (Jetson)."""

    ONNX = "onnx"
    OPENVINO = "openvino"
    ENGINE = "engine"


def export_model(
    model: str,
    out_dir: Path,
    fmt: ExportFormat,
    *,
    imgsz: int = 640,
    half: bool = False,
    batch: int = 1,
    device: str = "cpu",
    preload: str | None = None,
) -> Path:
    """Write `model` (path or package:...) as `fmt` under `out_dir`; return what to load.

    The weights are copied first, so nothing is written beside them (they may live in a
    read-only site-packages).
    """
    source = resolve_weights(model)
    if not source.is_file():
        raise ExportError(f"model file {source} does not exist")
    if fmt is ExportFormat.ENGINE and not device.startswith("cuda"):
        raise ExportError("a TensorRT engine needs a CUDA device (--device cuda:0)")
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / source.name
    if work.resolve() != source.resolve():
        shutil.copyfile(source, work)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    if preload:
        __import__(preload)
    from ultralytics.models.yolo.model import YOLO  # noqa: PLC0415  (torch import)

    options = _options(fmt, imgsz=imgsz, half=half, batch=batch, device=device)
    try:
        written = YOLO(str(work), task="detect").export(**options)
    except Exception as err:
        raise ExportError(f"cannot export {source} to {fmt.value}: {err}") from err
    if written is None:
        raise ExportError(f"ultralytics wrote nothing exporting {source} to {fmt.value}")
    log.info("exported %s to %s", source, written)
    return Path(str(written))


def _options(
    fmt: ExportFormat, *, imgsz: int, half: bool, batch: int, device: str
) -> dict[str, Any]:
    """Return ultralytics export arguments."""
    options: dict[str, Any] = {
        "format": fmt.value,
        "imgsz": imgsz,
        "batch": batch,
        "device": device,
    }
    if half:
        options["quantize"] = 16
    if batch > 1:
        # ONNX/OpenVINO take any batch up to `batch`; a TensorRT engine is built for exactly it.
        options["dynamic"] = fmt is not ExportFormat.ENGINE
    return options


__all__ = ["ExportError", "ExportFormat", "ModelLoadError", "export_model"]
