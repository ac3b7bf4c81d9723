"""event boxes for training exports; the fleet's model registry and rollouts

Revision ID: 0016
Revises: 0001
Create Date: 2026-12-03 13:50:00.000000

Events keep the boxes the node saw on the confirming frame, so judged alerts become labelled
training data. The fleet room keeps model versions (weights, sha256, classes, format,
evaluation report) and which nodes should run which version.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from station.duty.db import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("event", sa.Column("boxes", sa.JSON(), nullable=True))
    op.create_table(
        "model_version",
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "format",
            sa.Enum("pt", "onnx", "tflite", name="weightsformat", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column(
            "stage",
            sa.Enum(
                "registered", "canary", "all", name="rolloutstage", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_version_sha256", "model_version", ["sha256"])
    op.create_table(
        "model_weights",
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["model_version.id"]),
        sa.PrimaryKeyConstraint("version_id"),
    )
    op.create_table(
        "node_model",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.String(length=64), nullable=False),
        sa.Column("assigned_by", sa.String(length=128), nullable=False),
        sa.Column("assigned_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["model_version.id"]),
        sa.PrimaryKeyConstraint("node_id", "slot"),
    )
    op.create_index("ix_node_model_version_id", "node_model", ["version_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_node_model_version_id", table_name="node_model")
    op.drop_table("node_model")
    op.drop_table("model_weights")
    op.drop_index("ix_model_version_sha256", table_name="model_version")
    op.drop_table("model_version")
    op.drop_column("event", "boxes")
