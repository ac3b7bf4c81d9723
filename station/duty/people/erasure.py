"""Erasure's deletion orders: after a member is erased, every node that may hold their face
template must delete it and confirm, in its next entry sync (see deletions.py). Open orders
are shown until then."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from station.duty.fleet.models import Node
from station.duty.people.models import (
    ConsentKind,
    ConsentRecord,
)
from station.duty.people.rights_models import (
    DeletionOrder,
    DeletionReason,
    ErasureOrderPublic,
    ErasurePublic,
    MemberErasure,
)


def nodes_holding(session: Session, member_id: str) -> list[str]:
    """The nodes that may hold the member's template: every node once faces were shared,
    else the nodes of the stations where the member ever gave the face consent."""
    records = session.exec(select(ConsentRecord).where(ConsentRecord.member_id == member_id)).all()
    if any(r.kind == ConsentKind.FACE_SHARING.value for r in records):
        return sorted(session.exec(select(Node.id)))
    stations = {r.station_id for r in records if r.kind == ConsentKind.FACE.value}
    if not stations:
        return []
    query = select(Node.id).where(col(Node.station_id).in_(sorted(stations)))
    return sorted(session.exec(query))


def order_deletions(
    session: Session,
    member_id: str,
    station_id: str | None,
    node_ids: Iterable[str],
    who: str,
    now: datetime,
) -> MemberErasure:
    """Record an erasure and a deletion order to each node (added, not committed)."""
    erasure = MemberErasure(
        member_id=member_id, station_id=station_id, erased_at=now, erased_by=who
    )
    session.add(erasure)
    session.flush()
    assert erasure.id is not None
    for node_id in node_ids:
        session.add(
            DeletionOrder(
                node_id=node_id,
                member_id=member_id,
                reason=DeletionReason.ERASURE.value,
                erasure_id=erasure.id,
                station_id=station_id,
                ordered_at=now,
            )
        )
    return erasure


def erased_since(session: Session, since: datetime) -> set[str]:
    """The members erased since a time."""
    query = select(MemberErasure.member_id).where(col(MemberErasure.erased_at) >= since)
    return set(session.exec(query))


def erasures(
    session: Session, station_ids: frozenset[str] | None, limit: int = 100
) -> list[ErasurePublic]:
    """The latest erasures (of the caller's stations) with each node's confirmation."""
    query = select(MemberErasure).order_by(col(MemberErasure.id).desc()).limit(limit)
    if station_ids is not None:
        query = query.where(col(MemberErasure.station_id).in_(sorted(station_ids)))
    return [describe(session, erasure) for erasure in session.exec(query).all()]


def describe(session: Session, erasure: MemberErasure) -> ErasurePublic:
    """An erasure with each node's order and whether it has been confirmed."""
    rows = session.exec(
        select(DeletionOrder)
        .where(DeletionOrder.erasure_id == erasure.id)
        .order_by(col(DeletionOrder.node_id))
    ).all()
    orders = [ErasureOrderPublic(node_id=o.node_id, confirmed_at=o.confirmed_at) for o in rows]
    assert erasure.id is not None
    return ErasurePublic(
        id=erasure.id,
        member_id=erasure.member_id,
        station_id=erasure.station_id,
        erased_at=erasure.erased_at,
        erased_by=erasure.erased_by,
        orders=orders,
        complete=all(o.confirmed_at is not None for o in orders),
    )
