"""Alembic environment: runs on the connection that `station.duty.db.migrate` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from station.duty.schema import metadata as target_metadata


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    # APScheduler creates and owns its job table; the migrations leave it alone.
    return not (type_ == "table" and name == "apscheduler_jobs")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through station.duty.db.migrate(engine)")
_run(connection)
