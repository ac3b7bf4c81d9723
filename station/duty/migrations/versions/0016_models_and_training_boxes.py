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

revision: str = "0016"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("event", sa.Column("boxes", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("event", "boxes")
