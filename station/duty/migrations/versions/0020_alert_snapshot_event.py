"""the event whose snapshot an alert shows

Revision ID: 0020
Revises: 0001
Create Date: 2026-12-03 18:30:00.000000

An alert folds events from cameras (with a snapshot) and from sensors (without one): a
fire the camera saw is reported by the rules a moment later. The alert now names the last
of its events that came with a snapshot, so a sensor's event no longer hides the picture.
Existing alerts show what they showed before: their last event.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "alert",
        sa.Column("snapshot_event_id", sa.String(length=64), nullable=True),
    )
    op.execute(sa.text("UPDATE alert SET snapshot_event_id = last_event_id"))


def downgrade() -> None:
    """Revert this revision."""
    # Not a batch rebuild: on SQLite that could drop the partial unique index on open alerts.
    op.drop_column("alert", "snapshot_event_id")
