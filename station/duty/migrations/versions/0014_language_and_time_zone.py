"""each user's language and each station's time zone

Revision ID: 0014
Revises: 0002
Create Date: 2026-12-03 13:55:00.000000

People read the console, the dashboard and their notices in their own language (zh-CN
unless they choose otherwise), with times in the station's own zone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), nullable=False, server_default="zh-CN")
        )
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "time_zone", sa.String(length=64), nullable=False, server_default="Asia/Shanghai"
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("language")
