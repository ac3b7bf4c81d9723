"""The node's `rollout` section: where to fetch models, and when a new one is rolled back."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from station.contracts import NODE_CREDENTIAL_PREFIX


class RollbackThresholds(BaseModel):
    """How much worse than before a new model may run before the node rolls it back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grace_s: float = Field(
        default=5.0, ge=0, le=3600, description="Seconds after a swap not judged (warm-up)."
    )
    window_s: float = Field(
        default=60.0, gt=0, le=86_400, description="Seconds measured after the grace; then kept."
    )
    min_fps_ratio: float = Field(
        default=0.7, gt=0, description="Lowest frames per second after / before the swap."
    )
    max_inference_ratio: float = Field(
        default=2.0, gt=0, description="Highest model time per batch after / before the swap."
    )
    max_cameras_down: int = Field(
        default=0, ge=0, description="More cameras without frames than before: roll back."
    )


class RolloutConfig(BaseModel):
    """Model updates from cloud-duty's registry, with the node's own credential."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duty_url: str = Field(pattern=r"^https?://", description="cloud-duty's base URL (https).")
    duty_token: SecretStr = Field(
        description=f"This node's own cloud-duty API credential ({NODE_CREDENTIAL_PREFIX}...)."
    )
    tls_ca_file: Path | None = Field(default=None, description="CA file for cloud-duty's TLS.")
    dir: Path = Field(default=Path("var/models"), description="Where downloaded models are kept.")
    poll_s: float = Field(default=300.0, gt=0, le=86_400, description="How often to ask.")
    rollback: RollbackThresholds = Field(
        default_factory=RollbackThresholds, description="When a new model is rolled back."
    )

    @field_validator("duty_token")
    @classmethod
    def _node_credential_only(cls, token: SecretStr) -> SecretStr:
        # A stolen node must not hold admin rights: only a node credential is accepted here.
        if not token.get_secret_value().startswith(NODE_CREDENTIAL_PREFIX):
            raise ValueError(f"must be this node's own credential ({NODE_CREDENTIAL_PREFIX}...)")
        return token
