"""Object detection: an ultralytics model behind a small protocol, one call per batch."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from vision.errors import ModelLoadError
from vision.exposure import DarkLift, lift_dark
from vision.roles import Role, RoleMap

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """One object in one frame: its role, the model's class name, score and pixel box (xyxy)."""

    role: Role
    class_name: str
    score: float
    box: Box
    track_id: int | None = None
    # Angles from vertical (degrees) of the trunk (hips to shoulders) and of the legs (hips
    # to ankles) from a pose model; None: not measured.
    trunk_deg: float | None = None
    legs_deg: float | None = None

    @property
    def bottom_centre(self) -> tuple[float, float]:
        """Return the middle of the box's lower edge: where a person's feet are."""
        x1, _, x2, y2 = self.box
        return (x1 + x2) / 2.0, y2

    @property
    def centre(self) -> tuple[float, float]:
        """Return the middle of the box: where a lying person is."""
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2.0, (y1 + y2) / 2.0

    @property
    def aspect(self) -> float:
        """Return width / height of the box (above 1 for a person lying across the view)."""
        x1, y1, x2, y2 = self.box
        return (x2 - x1) / max(y2 - y1, 1e-6)


InputSize = int | tuple[int, int]
"""A model's input: a square side, or (height, width) of a letterboxed rectangle such as
(384, 640) for 16:9 cameras, which spends no compute on padding."""


def input_hw(imgsz: InputSize) -> tuple[int, int]:
    """Return (height, width) of an input size."""
    return (imgsz, imgsz) if isinstance(imgsz, int) else imgsz


class Detector(Protocol):
    """Anything that turns a batch of frames into detections, one list per frame."""

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """Detect objects in every frame with one model call for the whole batch."""
        ...

    @property
    def last_inference_ms(self) -> float:
        """Wall time of the last model call, in milliseconds."""
        ...


class YoloDetector:
    """An ultralytics YOLO detection model loaded from a file; never downloads anything."""

    def __init__(
        self,
        model_path: Path,
        roles: RoleMap | None = None,
        imgsz: InputSize = 640,
        confidence: float = 0.4,
        device: str = "cpu",
        half: bool | None = None,
        preload: str | None = None,
        dark: DarkLift | None = None,
    ) -> None:
        """Load the model at `model_path` or raise ModelLoadError.

        `half` None means FP16 exactly where the device allows it (CUDA); `preload` names a
        module to import first, for weights that pickle the package's own layers; `dark` says
        when a dark frame is brightened first (None: the defaults).
        """
        self.model_path = Path(model_path)
        self.roles = roles or RoleMap()
        self.imgsz = imgsz
        self.confidence = confidence
        self.device = device
        self.half = device.startswith("cuda") if half is None else half
        self.dark = dark or DarkLift()
        if preload:
            _preload(preload)
        self._model = _load_model(self.model_path, imgsz, device, self.half)
        self.steady_batch = steady_batch(self.model_path)
        self._last_ms = 0.0

    @property
    def last_inference_ms(self) -> float:
        """Wall time of the last model call, in milliseconds."""
        return self._last_ms

    @property
    def class_names(self) -> dict[int, str]:
        """Return the model's class index -> name table."""
        return dict(self._model.names)

    @property
    def served_roles(self) -> frozenset[Role]:
        """Return the roles this model's classes map to."""
        found = (self.roles.role_for(name) for name in self.class_names.values())
        return frozenset(role for role in found if role is not None)

    def detect(self, frames: list[np.ndarray]) -> list[list[Detection]]:
        """Detect objects in every frame (BGR arrays) with one model call for the batch."""
        if not frames:
            return []
        started = time.perf_counter()
        lifted = [lift_dark(frame, self.dark) for frame in frames]
        results = []
        for at in range(0, len(lifted), self.steady_batch):
            chunk = lifted[at : at + self.steady_batch]
            # Padded to the steady batch with copies: their results are dropped below.
            chunk += [chunk[-1]] * (self.steady_batch - len(chunk))
            found = self._model.predict(
                chunk,
                imgsz=self.imgsz,
                conf=self.confidence,
                device=self.device,
                verbose=False,
                **_precision(self.half),
            )
            results += found[: len(lifted) - at]
        self._last_ms = (time.perf_counter() - started) * 1000.0
        return [self._to_detections(result) for result in results]

    def _to_detections(self, result: Any) -> list[Detection]:
        boxes = result.boxes
        if boxes is None:
            return []
        names: dict[int, str] = result.names
        classes = boxes.cls.tolist()
        scores = boxes.conf.tolist()
        coords = boxes.xyxy.tolist()
        found: list[Detection] = []
        for cls, score, xyxy in zip(classes, scores, coords, strict=True):
            class_name = names[int(cls)]
            role = self.roles.role_for(class_name)
            if role is None:
                continue
            x1, y1, x2, y2 = (float(v) for v in xyxy)
            found.append(Detection(role, class_name, float(score), (x1, y1, x2, y2)))
        return found


def steady_batch(model_path: Path) -> int:
    """The batch size every call to this model should have: the export's batch for an INT8
    OpenVINO model with a dynamic batch, else 1 (any size).

    OpenVINO recompiles such a model whenever the batch size changes (0.4-0.6 s on a 2-core
    node, measured), and a node's batch changes whenever a camera's frame is late; padding a
    short batch costs a few tens of milliseconds instead. FP32 models take a new size cheaply.
    """
    metadata = model_path / "metadata.yaml"
    if not metadata.is_file():
        return 1
    import yaml  # noqa: PLC0415  (ultralytics' own dependency; only OpenVINO folders need it)

    data = yaml.safe_load(metadata.read_text()) or {}
    args = data.get("args") or {}
    int8 = args.get("quantize") == 8 or args.get("int8") is True
    batch = int(data.get("batch") or 1)
    return batch if int8 and args.get("dynamic") and batch > 1 else 1


def _precision(half: bool) -> dict[str, Any]:
    """Return predict's precision argument: FP16 only when wanted (`half` is deprecated)."""
    return {"quantize": 16} if half else {}


def _preload(module: str) -> None:
    """Import a module whose classes a model file pickles (e.g. fire_detector)."""
    import importlib  # noqa: PLC0415

    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ModelLoadError(f"cannot import {module!r} needed by the model: {err}") from err


def _load_model(path: Path, imgsz: InputSize, device: str, half: bool) -> Any:
    """Open a YOLO model file; missing or broken files give a ModelLoadError."""
    # OpenVINO exports are folders; everything else is one file.
    if not path.exists():
        raise ModelLoadError(f"model file {path} does not exist (set detector.model)")
    # Nothing may be fetched at run time; ultralytics reads these when it is first imported.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    # Imported here so that modules using only Detection need not pay for torch.
    from ultralytics.models.yolo.model import YOLO  # noqa: PLC0415

    try:
        model = YOLO(str(path), task="detect")
        # Exported backends are built lazily on the first call; make a broken file fail here,
        # and keep the slow first call out of the measured loop.
        blank = np.zeros((*input_hw(imgsz), 3), dtype=np.uint8)
        model.predict(blank, imgsz=imgsz, device=device, verbose=False, **_precision(half))
    except Exception as err:
        raise ModelLoadError(f"cannot load model file {path}: {err}") from err
    log.info("loaded model %s (%d classes)", path, len(model.names))
    return model
