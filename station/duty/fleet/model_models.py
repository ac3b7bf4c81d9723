"""The fleet's model registry: versions of the nodes' detection models, their weights, and
which version each node should run (per model slot)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import JSON, Column, LargeBinary
from sqlmodel import Field, SQLModel

from station.duty.db import ID_PATTERN, UTCDateTime, enum_field, utc_field

SHA256_PATTERN = r"^[0-9a-f]{64}$"
MAX_WEIGHTS_BYTES = 512 * 1024 * 1024


class WeightsFormat(StrEnum):
    """Single-file formats a node loads as they come (OpenVINO folders are exported on site)."""

    PT = "pt"
    ONNX = "onnx"
    TFLITE = "tflite"


class RolloutStage(StrEnum):
    """How far a version has gone out."""

    REGISTERED = "registered"
    CANARY = "canary"
    ALL = "all"


class ModelVersionBase(SQLModel):
    """What an admin registers about a version."""

    slot: str = Field(
        default="detector",
        max_length=64,
        description="The node's model it replaces: 'detector' (the main model).",
    )
    sha256: str = Field(schema_extra={"pattern": SHA256_PATTERN}, max_length=64, index=True)
    format: WeightsFormat = enum_field(WeightsFormat, WeightsFormat.PT)
    classes: list[str] = Field(
        sa_column=Column(JSON, nullable=False), description="The model's class names, in order."
    )
    report: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSON, nullable=False),
        description="Its evaluation report (e.g. `station train`'s): no worse than before.",
    )
    note: str = Field(default="", max_length=500, description="What changed, for people.")


class ModelVersion(ModelVersionBase, table=True):
    """A registered model version."""

    __tablename__ = "model_version"

    id: str = Field(primary_key=True, max_length=64, description="Version id, e.g. fall-2026-12.")
    size: int | None = Field(default=None, description="Bytes of weights, once uploaded.")
    stage: RolloutStage = enum_field(RolloutStage, RolloutStage.REGISTERED)
    created_by: str = Field(max_length=128)
    created_at: datetime = utc_field()


class ModelWeights(SQLModel, table=True):
    """The weights of a version, apart from its row so that listings never read them."""

    __tablename__ = "model_weights"

    version_id: str = Field(foreign_key="model_version.id", primary_key=True, max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class NodeModel(SQLModel, table=True):
    """The version a node should run in one slot."""

    __tablename__ = "node_model"

    node_id: str = Field(foreign_key="node.id", primary_key=True, max_length=64)
    slot: str = Field(primary_key=True, max_length=64)
    version_id: str = Field(foreign_key="model_version.id", index=True, max_length=64)
    assigned_by: str = Field(max_length=128)
    assigned_at: datetime = Field(sa_type=UTCDateTime)


class ModelVersionCreate(ModelVersionBase):
    """Body to register a version; the weights follow with PUT .../weights."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    id: str = Field(schema_extra={"pattern": ID_PATTERN}, max_length=64)


class ModelVersionPublic(ModelVersionBase):
    """A version as the registry shows it, with how far it has gone out."""

    id: str
    size: int | None
    stage: RolloutStage
    created_by: str
    created_at: datetime
    assigned: int = Field(default=0, description="Nodes told to run it.")
    running: int = Field(default=0, description="Nodes reporting it running.")
    rolled_back: int = Field(default=0, description="Nodes that tried it and rolled back.")


class RolloutCreate(SQLModel):
    """Body of a rollout: to a canary group of nodes, or to every node."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]
    stage: RolloutStage = Field(description="canary (the nodes named) or all.")
    node_ids: list[str] = Field(default_factory=list, max_length=1000)


class NodeModelAssignment(SQLModel):
    """What a node should run in one slot, as the node reads it."""

    slot: str
    version: str
    sha256: str
    format: WeightsFormat
    size: int | None
    classes: list[str]


class NodeModelState(SQLModel):
    """One row of the fleet's model table: a node, a slot, wanted and running versions."""

    node_id: str
    station_id: str
    slot: str
    wanted: str = Field(description="Version it should run; empty: its configured file.")
    running: str = Field(description="Version it reports running; empty: its configured file.")
    rolled_back_from: str = ""
    rollback_reason: str = ""
    state: str = Field(description="running, updating, rolled_back or configured.")
    reported_at: datetime | None = None
