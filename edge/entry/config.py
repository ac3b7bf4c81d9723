"""The `entry` section of a node's configuration: QR always, faces when configured."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from edge.entry.controller import EntryConfig
from station.contracts import NODE_CREDENTIAL_PREFIX, EntityId
from vision.faces import DEFAULT_THRESHOLD


class FaceEntrySettings(BaseModel):
    """Face entry: models, the encrypted gallery, and how sure the door must be."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    yunet: Path = Field(description="YuNet ONNX file (face_detection_yunet_2023mar.onnx).")
    dlib_dir: Path | None = Field(
        default=None, description="Folder of dlib's .dat files; none: the installed wheel's."
    )
    gallery_path: Path = Field(description="Encrypted gallery file.")
    gallery_key_file: Path = Field(
        description="Gallery key (made, mode 0600, on first start); keep it off the gallery's disk."
    )
    threshold: float = Field(
        default=DEFAULT_THRESHOLD, gt=0, le=1.2, description="Largest descriptor distance."
    )
    frames: int = Field(default=3, ge=1, le=30, description="Agreeing frames before opening.")
    challenge_s: float = Field(
        default=5, ge=2, le=30, description="Time to answer the door's challenge (turn, blink)."
    )
    enrol_read_s: float = Field(
        default=120,
        ge=10,
        le=600,
        description="Enrolment at the door: time to read the consent text and press agree.",
    )
    enrol_frames: int = Field(
        default=3, ge=1, le=5, description="Frames of the member's face an enrolment keeps."
    )


class EntrySettings(BaseModel):
    """The `entry` section of a node's configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: EntryConfig = Field(description="Station, verify key, state file, timings.")
    camera: EntityId | None = Field(
        default=None, description="Id of the camera that watches the door; none: the first one."
    )
    duty_url: str = Field(pattern=r"^https?://", description="cloud-duty's base URL for sync.")
    duty_token: SecretStr = Field(
        description=f"This node's own cloud-duty API credential ({NODE_CREDENTIAL_PREFIX}...), "
        "from `station edge enrol`; never an admin or service token."
    )
    sync_interval_s: float = Field(
        default=60, gt=0, le=3600, description="How often revocations and withdrawals sync."
    )
    face: FaceEntrySettings | None = Field(default=None, description="None: QR only.")
    scanner_file: Path | None = Field(
        default=None,
        description="A file a keyboard-wedge scanner (or the demo) appends codes to, one a "
        "line; lines added after start are shown to the door. None: the camera only.",
    )

    @field_validator("duty_token")
    @classmethod
    def _node_credential_only(cls, token: SecretStr) -> SecretStr:
        # A stolen node must not hold admin rights: only a node credential is accepted here.
        if not token.get_secret_value().startswith(NODE_CREDENTIAL_PREFIX):
            raise ValueError(
                f"must be this node's own credential ({NODE_CREDENTIAL_PREFIX}..., from "
                "`station edge enrol`), never an admin, service or user token"
            )
        return token

    def resolved(self, base: Path) -> EntrySettings:
        """Make its file paths absolute, relative to the YAML file's folder."""

        def resolve(value: Path) -> Path:
            return value if value.is_absolute() else (base / value).resolve()

        policy = self.policy.model_copy(update={"state_path": resolve(self.policy.state_path)})
        face = self.face
        if face is not None:
            face = face.model_copy(
                update={
                    "yunet": resolve(face.yunet),
                    "gallery_path": resolve(face.gallery_path),
                    "gallery_key_file": resolve(face.gallery_key_file),
                }
            )
        scanner = resolve(self.scanner_file) if self.scanner_file is not None else None
        return self.model_copy(update={"policy": policy, "face": face, "scanner_file": scanner})
