"""printed member cards; why an event's snapshot was withheld

Revision ID: 0018
Revises: 0001
Create Date: 2026-12-03 13:50:00.000000

A printed card opens one station until it is revoked; the revoked card ids go to the nodes
in their entry sync. The token itself is never stored: it is signed again from these claims.
An event records why its node kept the snapshot back (a face still found after blurring).
The append-only audit log (PostgreSQL trigger) admits one kind of delete: retention's, of
lines over a year old, in a transaction that says so (`SET LOCAL uws.retention = 'on'`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from station.duty.db import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
# The audit log's append-only trigger, replaced here, is made in 0002.
depends_on: str | Sequence[str] | None = "0002"


_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN {allow}RAISE EXCEPTION 'audit_log is append-only'; END $$"
)
_RETENTION_DELETE = (
    "IF TG_OP = 'DELETE' AND current_setting('uws.retention', true) = 'on' "
    "AND OLD.at < now() - interval '365 days' THEN RETURN OLD; END IF; "
)


def upgrade() -> None:
    """Apply this revision."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY.format(allow=_RETENTION_DELETE))
    op.create_table(
        "member_card",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_member_card_member_id", "member_card", ["member_id"])
    op.add_column(
        "event",
        sa.Column("snapshot_withheld", sa.String(length=100), nullable=False, server_default=""),
    )


def downgrade() -> None:
    """Revert this revision."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY.format(allow=""))
    op.drop_column("event", "snapshot_withheld")
    op.drop_index("ix_member_card_member_id", table_name="member_card")
    op.drop_table("member_card")
