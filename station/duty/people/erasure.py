"""Deletion orders: after a member is erased, every node that may hold their face template
must delete it and confirm, in its next entry sync. Open orders are shown until then."""

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
    ErasureOrder,
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
        session.add(ErasureOrder(erasure_id=erasure.id, node_id=node_id))
    return erasure


def _open_orders(session: Session, node_id: str) -> list[tuple[ErasureOrder, MemberErasure]]:
    query = (
        select(ErasureOrder, MemberErasure)
        .join(MemberErasure, col(MemberErasure.id) == col(ErasureOrder.erasure_id))
        .where(ErasureOrder.node_id == node_id, col(ErasureOrder.confirmed_at).is_(None))
    )
    return list(session.exec(query).all())


def pending_for_node(session: Session, node_id: str) -> list[str]:
    """The erased members whose templates this node has yet to confirm deleted."""
    return sorted({erasure.member_id for _order, erasure in _open_orders(session, node_id)})


def erased_since(session: Session, since: datetime) -> set[str]:
    """The members erased since a time."""
    query = select(MemberErasure.member_id).where(col(MemberErasure.erased_at) >= since)
    return set(session.exec(query))


def confirm_deletions(
    session: Session, node_id: str, member_ids: Iterable[str], now: datetime
) -> int:
    """Close this node's open orders for the members it reports deleted; return how many."""
    deleted = set(member_ids)
    confirmed = 0
    for order, erasure in _open_orders(session, node_id):
        if erasure.member_id in deleted:
            order.confirmed_at = now
            session.add(order)
            confirmed += 1
    session.commit()
    return confirmed


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
        select(ErasureOrder)
        .where(ErasureOrder.erasure_id == erasure.id)
        .order_by(col(ErasureOrder.node_id))
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
