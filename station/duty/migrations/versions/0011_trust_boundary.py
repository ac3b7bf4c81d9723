"""trust boundary: node API credentials and enrolment, sign-out and login lockout, member
home stations, consent text hashes, erasure with deletion orders

Revision ID: 0011
Revises: 0002, 0003, 0007
Create Date: 2026-12-10 09:00:00.000000

Existing members get the station of their first consent as their home station (managers
of it look after them); members without one are seen by admins and duty staff only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import station.duty.db


revision: str = "0011"
down_revision: str | Sequence[str] | None = ("0002", "0003", "0007")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_String = sqlmodel.sql.sqltypes.AutoString
_Time = station.duty.db.UTCDateTime


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "login_throttle",
        sa.Column("username", _String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("strikes", sa.Integer(), nullable=False),
        sa.Column("locked_until", _Time(timezone=True), nullable=True),
        sa.Column("last_failure_at", _Time(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "node_enrolment",
        sa.Column("code_hash", _String(length=64), nullable=False),
        sa.Column("node_id", _String(length=64), nullable=False),
        sa.Column("created_by", _String(length=128), nullable=False),
        sa.Column("created_at", _Time(timezone=True), nullable=False),
        sa.Column("expires_at", _Time(timezone=True), nullable=False),
        sa.Column("used_at", _Time(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"]),
        sa.PrimaryKeyConstraint("code_hash"),
    )
    with op.batch_alter_table("node_enrolment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_node_enrolment_node_id"), ["node_id"], unique=False)
    op.create_table(
        "consent_tally",
        sa.Column("station_id", _String(length=64), nullable=False),
        sa.Column("kind", _String(length=16), nullable=False),
        sa.Column("text_version", _String(length=32), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"]),
        sa.PrimaryKeyConstraint("station_id", "kind", "text_version"),
    )
    op.create_table(
        "member_erasure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", _String(length=64), nullable=False),
        sa.Column("station_id", _String(length=64), nullable=True),
        sa.Column("erased_at", _Time(timezone=True), nullable=False),
        sa.Column("erased_by", _String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("member_erasure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_erasure_member_id"), ["member_id"])
        batch_op.create_index(batch_op.f("ix_member_erasure_station_id"), ["station_id"])
    op.create_table(
        "erasure_order",
        sa.Column("erasure_id", sa.Integer(), nullable=False),
        sa.Column("node_id", _String(length=64), nullable=False),
        sa.Column("confirmed_at", _Time(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["erasure_id"], ["member_erasure.id"]),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"]),
        sa.PrimaryKeyConstraint("erasure_id", "node_id"),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", _Time(timezone=True), nullable=True))
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_sha256", _String(length=64), nullable=True))
    with op.batch_alter_table("node_credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_key_hash", _String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_node_credential_api_key_hash"), ["api_key_hash"], unique=True
        )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("station_id", _String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_member_station_id"), ["station_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_member_station_id_station", "station", ["station_id"], ["id"]
        )
    op.execute(
        sa.text(
            "UPDATE member SET station_id = (SELECT c.station_id FROM consent c"
            " WHERE c.member_id = member.id ORDER BY c.granted_at, c.id LIMIT 1)"
            " WHERE station_id IS NULL"
        )
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_constraint("fk_member_station_id_station", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_member_station_id"))
        batch_op.drop_column("station_id")
    with op.batch_alter_table("node_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_credential_api_key_hash"))
        batch_op.drop_column("api_key_hash")
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_column("text_sha256")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
    op.drop_table("erasure_order")
    with op.batch_alter_table("member_erasure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_erasure_station_id"))
        batch_op.drop_index(batch_op.f("ix_member_erasure_member_id"))
    op.drop_table("member_erasure")
    op.drop_table("consent_tally")
    with op.batch_alter_table("node_enrolment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_enrolment_node_id"))
    op.drop_table("node_enrolment")
    op.drop_table("login_throttle")
