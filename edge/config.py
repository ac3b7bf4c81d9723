"""Edge node configuration: one YAML file, validated once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from edge.devices.config import DevicesConfig, RulesConfig
from edge.enrol import merge_credentials, read_credentials
from edge.entry.config import EntrySettings
from edge.errors import ConfigError
from edge.rollout.config import RolloutConfig
from station.contracts import EntityId, NodeId
from vision.events import Hazard
from vision.exposure import DarkLift
from vision.pipeline import AnalysisSettings
from vision.privacy import DEFAULT_CHECK_SCORE
from vision.roles import Role
from vision.weights import PACKAGE_PREFIX, ImageSize, ModelSpec


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CloudConfig(_Section):
    """How to reach the cloud MQTT broker."""

    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host name or IP.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port.")
    username: str | None = Field(default=None, description="Node's broker user name.")
    password: SecretStr | None = Field(default=None, description="Node's broker password.")
    tls_ca_file: Path | None = Field(
        default=None, description="CA certificate file; when set, the link uses TLS."
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keep-alive, seconds.")
    resume_delay_s: float = Field(
        default=3.0,
        ge=0,
        le=60,
        description="After (re)connecting, wait this long before draining the outbox, so "
        "cloud-duty has re-subscribed after a broker restart (Mosquitto 2.0 does not restore "
        "shared subscriptions from persistence).",
    )
    session_expiry_s: int = Field(
        default=3600,
        ge=0,
        description="How long the broker keeps this node's session (and queued commands).",
    )
    receipt_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Send a message again if cloud-duty has not receipted it this long after "
        "the broker's PUBACK; doubled on each try.",
    )
    receipt_backoff_max_s: float = Field(
        default=600.0, gt=0, le=86_400, description="Longest wait between two tries of a message."
    )
    max_unreceipted: int = Field(
        default=2000,
        ge=1,
        le=100_000,
        description="Most messages sent and awaiting a receipt; past it only re-sends go out.",
    )


class CameraConfig(_Section):
    """One video source."""

    id: EntityId = Field(default="main", description="Camera id, as reported in events.")
    source: str | int = Field(
        description="Video file path, rtsp:// (or other) URL, or a USB camera index."
    )
    loop: bool = Field(default=True, description="Start a file again at its end.")
    realtime: bool = Field(
        default=True, description="Play files at their native frame rate, as a live camera."
    )
    max_fps: float = Field(default=5.0, gt=0, le=120, description="Most frames analysed a second.")
    analysis: AnalysisSettings | None = Field(
        default=None,
        description="What this camera watches for (zones, rest zones, door line, hazards, "
        "thresholds); none: the node's `analysis`.",
    )

    @field_validator("source")
    @classmethod
    def _digits_are_a_device(cls, value: str | int) -> str | int:
        # "0" quoted in YAML still means USB camera 0, never a file called 0.
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value

    @property
    def is_file(self) -> bool:
        """Return whether the source is a local file (not a URL or a device index)."""
        return isinstance(self.source, str) and "://" not in self.source


class DetectorConfig(_Section):
    """The detection model."""

    model: Path = Field(description="Model file (.pt, .onnx, .tflite, ...); never downloaded.")
    imgsz: ImageSize = 640
    confidence: float = Field(default=0.4, ge=0.0, le=1.0, description="Lowest score kept.")
    device: str = Field(default="cpu", description="Torch device: cpu, cuda:0, ...")
    roles: dict[str, Role | None] = Field(
        default_factory=dict,
        description="Model class name -> role (person/fallen/fire/smoke), null to ignore a class.",
    )
    dark: DarkLift = Field(
        default_factory=DarkLift, description="Dark frames brightened before the model."
    )


class PrivacyConfig(_Section):
    """Snapshots attached to events, faces blurred before they leave the node."""

    face_model: Path = Field(description="YuNet ONNX file for cv2.FaceDetectorYN.")
    face_score: float = Field(default=0.5, gt=0, lt=1, description="Lowest face score blurred.")
    check_score: float = Field(
        default=DEFAULT_CHECK_SCORE,
        gt=0,
        lt=1,
        description="A face this sure, still found after blurring, keeps the snapshot here.",
    )
    snapshots: bool = Field(default=True, description="Attach a blurred JPEG to new events.")
    jpeg_quality: int = Field(default=80, ge=10, le=100, description="Snapshot JPEG quality.")


class OutboxConfig(_Section):
    """The durable queue of messages for the cloud."""

    path: Path = Field(default=Path("var/edge/outbox.sqlite"), description="SQLite file.")
    max_rows: int = Field(
        default=50_000,
        ge=10,
        description="Cap on waiting messages; past it state reports and snapshots are evicted "
        "oldest first, hazard events and visits never.",
    )


class HealthConfig(_Section):
    """The heartbeat."""

    interval_s: float = Field(default=30.0, gt=0, description="Seconds between NodeHealth.")
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve Prometheus `/metrics` on this port (0: any free one); none: off.",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the metrics server listens on; the station LAN's, for a scraper.",
    )


class RetentionConfig(_Section):
    """How long the node keeps its own records (cloud-duty keeps its own periods)."""

    door_log_days: float = Field(
        default=90, gt=0, description="Door decisions in the entry state file (also uplinked)."
    )
    outbox_days: float = Field(
        default=30,
        gt=0,
        description="Messages the cloud never receipted are dropped after this many days.",
    )
    every_h: float = Field(default=6, gt=0, le=168, description="How often the purge runs.")


class EdgeConfig(_Section):
    """Everything an edge node needs, from one YAML file."""

    node_id: NodeId
    credentials: Path | None = Field(
        default=None,
        description="The node's credentials file from `station edge enrol` (mode 0600): it "
        "fills node_id, the broker login, the entry section's cloud-duty URL, API "
        "credential, station and keys, and the rollout section's cloud-duty URL and API "
        "credential (an enrolled node takes model updates unless `rollout: null`).",
    )
    cloud: CloudConfig = Field(default_factory=CloudConfig, description="Cloud broker link.")
    camera: CameraConfig = Field(description="The first camera.")
    cameras: list[CameraConfig] = Field(
        default_factory=list,
        max_length=15,
        description="More cameras; every model call serves a batch of all their frames.",
    )
    detector: DetectorConfig = Field(description="The detection model.")
    analysis: AnalysisSettings = Field(
        default_factory=lambda: AnalysisSettings(hazards=frozenset({Hazard.PERSON})),
        description="What every camera without its own `analysis` watches for; by default "
        "presence only.",
    )
    models: list[ModelSpec] = Field(
        default_factory=list,
        description="Further models on the camera beside `detector` (e.g. a fire model).",
    )
    privacy: PrivacyConfig | None = Field(
        default=None, description="Blurred snapshots on events; none: no snapshots."
    )
    outbox: OutboxConfig = Field(default_factory=OutboxConfig, description="Durable outbox.")
    health: HealthConfig = Field(default_factory=HealthConfig, description="Heartbeat.")
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="The node's local door log and outbox."
    )
    devices: DevicesConfig | None = Field(
        default=None, description="The station's MQTT devices; none: the node runs no rules."
    )
    rules: RulesConfig = Field(
        default_factory=RulesConfig, description="Thresholds of the local safety rules."
    )
    entry: EntrySettings | None = Field(
        default=None, description="Entry by QR code (and face) at the door; needs `devices`."
    )
    rollout: RolloutConfig | None = Field(
        default=None,
        description="Model updates from cloud-duty's registry for `detector`; none: the "
        "configured file only.",
    )

    @property
    def all_cameras(self) -> list[CameraConfig]:
        """The first camera, then the others."""
        return [self.camera, *self.cameras]

    def analysis_for(self, camera: CameraConfig) -> AnalysisSettings:
        """Return the analysis settings of one camera: its own, else the node's."""
        return camera.analysis if camera.analysis is not None else self.analysis

    @property
    def door_camera(self) -> str | None:
        """Return the id of the camera that watches the door for entry, if entry is on."""
        if self.entry is None:
            return None
        return self.entry.camera or self.camera.id

    @model_validator(mode="after")
    def _distinct_cameras(self) -> EdgeConfig:
        ids = [camera.id for camera in self.all_cameras]
        if len(set(ids)) != len(ids):
            raise ValueError(f"camera ids must be distinct: {', '.join(ids)}")
        known = set(ids)
        for spec in self.models:
            if spec.cameras is not None and not spec.cameras <= known:
                raise ValueError(f"model {spec.model} names unknown cameras")
        return self

    @model_validator(mode="after")
    def _entry_needs_a_door(self) -> EdgeConfig:
        if self.entry is not None and self.devices is None:
            raise ValueError("entry opens the door, so it needs a `devices` section")
        door = self.entry.camera if self.entry is not None else None
        if door is not None and door not in {camera.id for camera in self.all_cameras}:
            raise ValueError(f"entry.camera {door!r} is not one of the node's cameras")
        return self


def load_config(path: Path | str) -> EdgeConfig:
    """Read and validate an edge YAML file; relative paths are resolved against its folder."""
    file = Path(path)
    try:
        raw: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{file}: cannot read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{file}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: expected a mapping at the top level")
    if raw.get("credentials"):
        given = Path(str(raw["credentials"]))
        held = given if given.is_absolute() else file.resolve().parent / given
        raw = merge_credentials({**raw, "credentials": str(held)}, read_credentials(held))
    try:
        config = EdgeConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{file}: {_describe(err)}") from err
    return _resolve_paths(config, file.resolve().parent)


def _describe(err: ValidationError) -> str:
    """Return one line per bad field: 'field.path: reason'."""
    lines = []
    for problem in err.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "<root>"
        lines.append(f"{where}: {problem['msg']}")
    return "; ".join(lines)


def _resolve_paths(config: EdgeConfig, base: Path) -> EdgeConfig:
    """Make file paths in the config absolute, relative to the YAML file's folder."""

    def resolve(value: Path) -> Path:
        return value if value.is_absolute() else (base / value).resolve()

    def resolve_camera(camera: CameraConfig) -> CameraConfig:
        if not camera.is_file:
            return camera
        return camera.model_copy(update={"source": str(resolve(Path(str(camera.source))))})

    camera = resolve_camera(config.camera)
    cameras = [resolve_camera(c) for c in config.cameras]
    models = [
        spec
        if spec.model.startswith(PACKAGE_PREFIX)
        else spec.model_copy(update={"model": str(resolve(Path(spec.model)))})
        for spec in config.models
    ]
    privacy = config.privacy
    if privacy is not None:
        privacy = privacy.model_copy(update={"face_model": resolve(privacy.face_model)})
    cloud = config.cloud
    if cloud.tls_ca_file is not None:
        cloud = cloud.model_copy(update={"tls_ca_file": resolve(cloud.tls_ca_file)})
    if config.devices is not None:
        config = config.model_copy(update={"devices": config.devices.resolved(base)})
    if config.entry is not None:
        config = config.model_copy(update={"entry": config.entry.resolved(base)})
    if config.rollout is not None:
        rollout = config.rollout.model_copy(update={"dir": resolve(config.rollout.dir)})
        config = config.model_copy(update={"rollout": rollout})
    return config.model_copy(
        update={
            "camera": camera,
            "cameras": cameras,
            "cloud": cloud,
            "models": models,
            "privacy": privacy,
            "detector": config.detector.model_copy(
                update={"model": resolve(config.detector.model)}
            ),
            "outbox": config.outbox.model_copy(update={"path": resolve(config.outbox.path)}),
        }
    )
