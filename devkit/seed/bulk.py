"""Bulk inserts for generated data: COPY on PostgreSQL, executemany elsewhere."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Table, insert


def table_of(model: Any) -> Table:
    """The SQLAlchemy table of a SQLModel class."""
    table: Table = model.__table__
    return table


def bulk(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL, executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    names = list(rows[0])
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        columns = ", ".join(f'"{n}"' for n in names)
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([_copy_value(row[n]) for n in names])


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if hasattr(value, "value") and not isinstance(value, str | int | float):
        return value.value
    return value
