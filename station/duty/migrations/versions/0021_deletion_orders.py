"""deletion orders for withdrawals too: erasure_order becomes deletion_order

Revision ID: 0021
Revises: 0020 (and needs 0011, which made erasure_order)
Create Date: 2026-12-03 21:30:00.000000

A node deletes a member's face template after an erasure or after a face or sharing
consent is withdrawn, and confirms either in its next sync. One table holds both orders,
with the reason; the erasure orders already given move over with their confirmations.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import station.duty.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0011"

_String = sqlmodel.sql.sqltypes.AutoString
_Time = station.duty.db.UTCDateTime


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "deletion_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", _String(length=64), nullable=False),
        sa.Column("member_id", _String(length=64), nullable=False),
        sa.Column("reason", _String(length=16), nullable=False),
        sa.Column("erasure_id", sa.Integer(), nullable=True),
        sa.Column("station_id", _String(length=64), nullable=True),
        sa.Column("ordered_at", _Time(timezone=True), nullable=False),
        sa.Column("confirmed_at", _Time(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["erasure_id"], ["member_erasure.id"]),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deletion_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deletion_order_node_id"), ["node_id"])
        batch_op.create_index(batch_op.f("ix_deletion_order_member_id"), ["member_id"])
        batch_op.create_index(batch_op.f("ix_deletion_order_erasure_id"), ["erasure_id"])
    op.execute(
        sa.text(
            "INSERT INTO deletion_order (node_id, member_id, reason, erasure_id, station_id,"
            " ordered_at, confirmed_at)"
            " SELECT o.node_id, e.member_id, 'erasure', o.erasure_id, e.station_id,"
            " e.erased_at, o.confirmed_at"
            " FROM erasure_order o JOIN member_erasure e ON e.id = o.erasure_id"
            " ORDER BY o.erasure_id, o.node_id"
        )
    )
    op.drop_table("erasure_order")


def downgrade() -> None:
    """Revert this revision; withdrawal orders are lost (they had no table before)."""
    op.create_table(
        "erasure_order",
        sa.Column("erasure_id", sa.Integer(), nullable=False),
        sa.Column("node_id", _String(length=64), nullable=False),
        sa.Column("confirmed_at", _Time(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["erasure_id"], ["member_erasure.id"]),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"]),
        sa.PrimaryKeyConstraint("erasure_id", "node_id"),
    )
    op.execute(
        sa.text(
            "INSERT INTO erasure_order (erasure_id, node_id, confirmed_at)"
            " SELECT erasure_id, node_id, confirmed_at FROM deletion_order"
            " WHERE reason = 'erasure' AND erasure_id IS NOT NULL"
        )
    )
    with op.batch_alter_table("deletion_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deletion_order_erasure_id"))
        batch_op.drop_index(batch_op.f("ix_deletion_order_member_id"))
        batch_op.drop_index(batch_op.f("ix_deletion_order_node_id"))
    op.drop_table("deletion_order")
