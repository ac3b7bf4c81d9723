"""Export a model for deployment (ONNX, OpenVINO FP32/INT8, TensorRT) into a folder the detector
loads, at the cameras' real input shape; INT8 is calibrated on local frames, never downloaded."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from vision.detector import InputSize
from vision.errors import ExportError, ModelLoadError
from vision.weights import resolve_weights

log = logging.getLogger(__name__)


class ExportFormat(StrEnum):
    """Deployment formats; TensorRT engines are built on the device that runs them (Jetson)."""

    ONNX = "onnx"
    OPENVINO = "openvino"
    ENGINE = "engine"


@dataclass(frozen=True)
class Calibration:
    """Local footage that INT8 quantisation measures activations on."""

    clips: tuple[Path, ...]
    frames: int = 64


def export_model(
    model: str,
    out_dir: Path,
    fmt: ExportFormat,
    *,
    imgsz: InputSize = 640,
    half: bool = False,
    batch: int = 1,
    device: str = "cpu",
    preload: str | None = None,
    int8: Calibration | None = None,
) -> Path:
    """Write `model` (path or package:...) as `fmt` under `out_dir`; return what to load.

    The weights are copied first, so nothing is written beside them (they may live in a
    read-only site-packages). `int8` quantises an OpenVINO export on frames of local clips.
    """
    source = resolve_weights(model)
    if not source.is_file():
        raise ExportError(f"model file {source} does not exist")
    if fmt is ExportFormat.ENGINE and not device.startswith("cuda"):
        raise ExportError("a TensorRT engine needs a CUDA device (--device cuda:0)")
    if int8 is not None and fmt is not ExportFormat.OPENVINO:
        raise ExportError("INT8 export is offered for OpenVINO only")
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
        yolo = YOLO(str(work), task="detect")
        if int8 is not None:
            names = {int(k): str(v) for k, v in yolo.names.items()}
            options |= {"int8": True, "data": str(calibration_set(int8, out_dir, names))}
        written = yolo.export(**options)
    except ExportError:
        raise
    except Exception as err:
        raise ExportError(f"cannot export {source} to {fmt.value}: {err}") from err
    if written is None:
        raise ExportError(f"ultralytics wrote nothing exporting {source} to {fmt.value}")
    log.info("exported %s to %s", source, written)
    return Path(str(written))


def calibration_set(calibration: Calibration, out_dir: Path, names: dict[int, str]) -> Path:
    """Write frames spread over the clips as a dataset ultralytics calibrates on; its YAML."""
    images = out_dir / "calibration" / "images"
    images.mkdir(parents=True, exist_ok=True)
    per_clip = max(1, calibration.frames // max(1, len(calibration.clips)))
    written = 0
    for clip in calibration.clips:
        for i, frame in enumerate(_spread_frames(clip, per_clip)):
            cv2.imwrite(str(images / f"{clip.stem}-{i:03d}.jpg"), frame)
            written += 1
    if written == 0:
        raise ExportError("no calibration frames could be read from the clips given")
    config = {"path": str(images.parent), "train": "images", "val": "images", "names": names}
    data = out_dir / "calibration" / "data.yaml"
    data.write_text(yaml.safe_dump(config, allow_unicode=True))
    log.info("INT8 calibration on %d frames of %d clip(s)", written, len(calibration.clips))
    return data


def _spread_frames(clip: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(clip))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    for i in range(count if total > 0 else 0):
        capture.set(cv2.CAP_PROP_POS_FRAMES, i * total // count)
        ok, frame = capture.read()
        if ok:
            frames.append(frame)
    capture.release()
    if not frames:
        log.warning("calibration clip %s gave no frames", clip)
    return frames


def _options(
    fmt: ExportFormat, *, imgsz: InputSize, half: bool, batch: int, device: str
) -> dict[str, Any]:
    """Return ultralytics export arguments."""
    options: dict[str, Any] = {
        "format": fmt.value,
        "imgsz": imgsz if isinstance(imgsz, int) else list(imgsz),
        "batch": batch,
        "device": device,
    }
    if half:
        options["quantize"] = 16
    if batch > 1:
        # ONNX/OpenVINO take any batch up to `batch`; a TensorRT engine is built for exactly it.
        options["dynamic"] = fmt is not ExportFormat.ENGINE
    return options


__all__ = ["Calibration", "ExportError", "ExportFormat", "ModelLoadError", "export_model"]
