"""event snapshots in the database

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 12:05:00.000000

Snapshots move from one replica's disk into the database (bytea on PostgreSQL), so that every
replica serves what any replica stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from station.duty.db import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "snapshot",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("node_id", "event_id"),
    )
    op.create_index("ix_snapshot_stored_at", "snapshot", ["stored_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_snapshot_stored_at", table_name="snapshot")
    op.drop_table("snapshot")
