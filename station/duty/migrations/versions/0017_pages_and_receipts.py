"""pages that fail over, and provider receipts on deliveries

Revision ID: 0017
Revises: 0005
Create Date: 2026-12-03 14:00:00.000000

A delivery keeps the provider's message id and what its receipt said; a page is the chain of
texts and calls of one escalation step, moved on when no receipt confirms delivery in time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from station.duty.db import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0002",)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("message_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("receipt", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("receipt_at", UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_delivery_message_id", ["message_id"])
    op.create_table(
        "page",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("chain", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("short_code", sa.String(length=8), nullable=False),
        sa.Column("deadline_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("failovers", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_page_alert_id", "page", ["alert_id"])
    op.create_index("ix_page_state", "page", ["state"])
    op.create_index("ix_page_short_code", "page", ["short_code"])
    op.create_index("ix_page_deadline_at", "page", ["deadline_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("page")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_index("ix_delivery_message_id")
        batch.drop_column("receipt_at")
        batch.drop_column("receipt")
        batch.drop_column("message_id")
