"""Paged, filtered listings shared by the API's list endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from station.duty.db import INTEGER_MAX

P = TypeVar("P", bound=BaseModel)
R = TypeVar("R", bound=SQLModel)
T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing with the total that matched."""

    items: list[T]
    total: int
    limit: int
    offset: int


class Paging:
    """`limit` and `offset` query parameters."""

    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
        offset: Annotated[int, Query(ge=0, le=INTEGER_MAX, description="Items to skip.")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


PagingDep = Annotated[Paging, Depends()]


def paginate(
    session: Session,
    query: SelectOfScalar[R],
    public: type[P],
    limit: int,
    offset: int,
) -> Page[P]:
    """Run `query` for one page and count everything it matches."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    rows = session.exec(query.limit(limit).offset(offset)).all()
    items = [public.model_validate(row, from_attributes=True) for row in rows]
    return Page[public](items=items, total=total, limit=limit, offset=offset)  # type: ignore[valid-type]


def filtered(query: SelectOfScalar[R], table: type[R], **equals: Any) -> SelectOfScalar[R]:
    """Add `column == value` for every filter that was given."""
    for name, value in equals.items():
        if value is not None:
            query = query.where(col(getattr(table, name)) == value)
    return query


def in_window(
    query: SelectOfScalar[R], column: Any, since: datetime | None, until: datetime | None
) -> SelectOfScalar[R]:
    """Keep rows whose `column` falls in [since, until)."""
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query
