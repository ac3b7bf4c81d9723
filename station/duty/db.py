"""Engine, migrations, and the column types and fields every room's tables use."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from alembic import command
from alembic.config import Config
from pydantic import BaseModel
from sqlalchemy import JSON, DateTime, Engine, event, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, create_engine

from station.contracts import utcnow

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x55575301
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

M = TypeVar("M", bound=BaseModel)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        """Refuse naive datetimes; store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        """Attach UTC where the database dropped the zone."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PydanticJSON(TypeDecorator[M], Generic[M]):
    """A JSON column read and written as a pydantic model (the wire contract's shape)."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def __init__(self, model: type[M]) -> None:
        super().__init__()
        self.model = model

    def process_bind_param(self, value: M | dict[str, Any] | None, dialect: Dialect) -> Any:  # noqa: ARG002
        """Store the model as the JSON its wire message has (aliases, ISO times)."""
        if value is None:
            return None
        model = value if isinstance(value, BaseModel) else self.model.model_validate(value)
        return model.model_dump(mode="json", by_alias=True)

    def process_result_value(self, value: Any, dialect: Dialect) -> M | None:  # noqa: ARG002
        """Read the stored JSON back as the model."""
        if value is None:
            return None
        return self.model.model_validate(value)


def enum_field(kind: type[StrEnum], default: StrEnum, *, index: bool = False) -> Any:
    """An enum column stored as its value (a short string), read back as the enum."""
    column_type = SAEnum(
        kind, values_callable=lambda e: [m.value for m in e], native_enum=False, length=16
    )
    return Field(default=default, sa_type=column_type, index=index)


def utc_field(*, nullable: bool = False, index: bool = False, default: bool = False) -> Any:
    """A UTC timestamp column; `default` stamps the time the row is made."""
    if default:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=nullable, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


INTEGER_MAX = 2**31 - 1
"""The largest value an INTEGER column holds (PostgreSQL's; SQLite's is larger): ids and
offsets from a request are bounded by it, so a bigger one is a 422, not a 500."""


def make_engine(url: str) -> Engine:
    """Create the engine for SQLite (WAL, foreign keys) or PostgreSQL."""
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def is_postgres(engine: Engine) -> bool:
    """Return whether the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision; one replica at a time."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if is_postgres(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        # "heads": features may add migration branches off the same parent.
        command.upgrade(cfg, "heads")
    logger.info("database schema is at the newest revision")
