"""SQL that differs between SQLite and PostgreSQL: local time, hour, weekday, dwell.

Statistics are GROUP BYs in SQL: a year of visits for fifty stations is about a million
rows, so nothing here loops over visits in Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, cast, func, literal_column
from sqlalchemy.sql.elements import ColumnClause, ColumnElement
from sqlmodel import Session, col, select

from station.duty.fleet.models import Station
from station.duty.people.models import VisitRecord

# Group by position: an expression with bound parameters (the zone name) repeated in
# GROUP BY gets new parameters, and PostgreSQL then refuses it as a different expression.
FIRST: ColumnClause[Any] = literal_column("1")
SECOND: ColumnClause[Any] = literal_column("2")


def local_time(session: Session, column: Any, tz: ZoneInfo, at: datetime) -> Any:
    """The column as local wall-clock time, for hour/weekday/day grouping."""
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone(tz.key, column)
    offset = at.astimezone(tz).utcoffset() or timedelta()
    # SQLite has no zone database: a fixed offset, right for zones without DST (China).
    return func.datetime(column, f"{int(offset.total_seconds())} seconds")


def hour_of(session: Session, local: Any) -> Any:
    """The hour (0..23) of a local time."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("hour", local), Integer)
    return cast(func.strftime("%H", local), Integer)


def weekday_of(session: Session, local: Any) -> Any:
    """Monday 0 .. Sunday 6."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("isodow", local), Integer) - 1
    return (cast(func.strftime("%w", local), Integer) + 6) % 7


def dwell_seconds(session: Session) -> ColumnElement[Any]:
    """A visit's stay in seconds (NULL while it has no exit)."""
    entered, exited = col(VisitRecord.entered_at), col(VisitRecord.exited_at)
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", exited - entered)
    return (func.julianday(exited) - func.julianday(entered)) * 86400.0


def visible_stations(session: Session, station_ids: Iterable[str] | None) -> list[Station]:
    """The stations among `station_ids` (all when None), by id."""
    query = select(Station).order_by(col(Station.id))
    if station_ids is not None:
        query = query.where(col(Station.id).in_(sorted(station_ids)))
    return list(session.exec(query).all())
