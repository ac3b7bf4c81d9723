"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from station.duty.db import migrate
from station.duty.schema import metadata


def test_migrated_schema_matches_models(engine: Engine) -> None:
    migrate(engine)  # a second run is a no-op
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_every_rooms_tables_are_on_the_metadata() -> None:
    expected = {"alert", "event", "feed_entry", "delivery", "rotation", "escalation_policy"}
    expected |= {"station", "node", "node_credential", "command"}
    expected |= {"user", "api_token", "audit_log", "member", "consent", "visit"}
    assert expected <= set(metadata.tables)
