"""alert severity defaults to warning

Revision ID: 0010
Revises: 0001
Create Date: 2026-12-03 10:30:00.000000

The alert's severity now comes from the node's event (raised, never lowered, by later
events). Rows written without one read as "warning": existing empty values are filled,
and PostgreSQL gets the server default. SQLite keeps its table as it is: a batch rebuild
of `alert` could drop the partial unique index on open alerts, and the application always
writes a severity.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0010"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.execute(
        sa.text("UPDATE alert SET severity = 'warning' WHERE severity IS NULL OR severity = ''")
    )
    if op.get_context().dialect.name != "sqlite":
        op.alter_column(
            "alert", "severity", existing_type=sa.String(length=16), server_default="warning"
        )


def downgrade() -> None:
    """Revert this revision."""
    if op.get_context().dialect.name != "sqlite":
        op.alter_column(
            "alert", "severity", existing_type=sa.String(length=16), server_default=None
        )
