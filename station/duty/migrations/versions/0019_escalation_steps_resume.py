"""escalation steps that resume after a crash or a lost database connection

Revision ID: 0019
Revises: 0002
Create Date: 2026-12-03 18:10:00.000000

An alert records how many escalation steps have had their notices sent, and when its next
step is due (or, while a step is sending, when that step counts as stalled). A sweep resumes
any step that is overdue, so a page is never lost between advancing the level and paging.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from station.duty.db import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("paged_steps", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_step_at", UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_alert_next_step_at", ["next_step_at"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("alert") as batch:
        batch.drop_index("ix_alert_next_step_at")
        batch.drop_column("next_step_at")
        batch.drop_column("paged_steps")
