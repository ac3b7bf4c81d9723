"""Template deletion orders and their confirmation: a node must delete a member's face
template after an erasure (erasure.py) or after a face or sharing consent is withdrawn
(here), and confirms each deletion in its next entry sync. A node confirms only its own
orders, and an order stays open, and shown, until it does."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, or_, select

from station.duty.fleet.models import Node
from station.duty.people import erasure
from station.duty.people.models import ConsentKind, ConsentRecord
from station.duty.people.rights_models import (
    DeletionOrder,
    DeletionReason,
    TemplateDeletionPublic,
)


def pending_for_node(session: Session, node_id: str, reason: DeletionReason) -> list[str]:
    """The members whose templates this node has yet to confirm deleted, for a reason."""
    query = select(DeletionOrder.member_id).where(
        DeletionOrder.node_id == node_id,
        DeletionOrder.reason == reason.value,
        col(DeletionOrder.confirmed_at).is_(None),
    )
    return sorted(set(session.exec(query)))


def confirm_deletions(
    session: Session,
    node_id: str,
    member_ids: Iterable[str],
    reason: DeletionReason,
    now: datetime,
) -> int:
    """Close this node's open orders of a reason for the members it reports deleted;
    return how many. Other nodes' orders are out of its reach."""
    deleted = sorted(set(member_ids))
    if not deleted:
        return 0
    query = select(DeletionOrder).where(
        DeletionOrder.node_id == node_id,
        DeletionOrder.reason == reason.value,
        col(DeletionOrder.member_id).in_(deleted),
        col(DeletionOrder.confirmed_at).is_(None),
    )
    orders = session.exec(query).all()
    for order in orders:
        order.confirmed_at = now
        session.add(order)
    session.commit()
    return len(orders)


def nodes_to_delete(session: Session, member_id: str) -> set[str]:
    """The nodes that may hold the member's template but must not keep it: those of
    stations with no active face consent of the member, unless the sharing consent stands
    (members.face_withdrawn's rule, for one member)."""
    records = session.exec(select(ConsentRecord).where(ConsentRecord.member_id == member_id))
    active = [r for r in records.all() if r.withdrawn_at is None]
    if any(r.kind == ConsentKind.FACE_SHARING.value for r in active):
        return set()
    kept = {r.station_id for r in active if r.kind == ConsentKind.FACE.value}
    holders = erasure.nodes_holding(session, member_id)
    rows = session.exec(select(Node.id, Node.station_id).where(col(Node.id).in_(holders)))
    return {node_id for node_id, station_id in rows if station_id not in kept}


def order_after_change(
    session: Session, member_id: str, before: set[str], station_id: str, now: datetime
) -> None:
    """After a consent of the member was withdrawn or given at a station: order each node
    that must now delete the template and did not have to before, and drop the open orders
    of nodes that may keep it again (consent given anew before the node acted). Added to
    the session, not committed."""
    session.flush()
    after = nodes_to_delete(session, member_id)
    query = select(DeletionOrder).where(
        DeletionOrder.member_id == member_id,
        DeletionOrder.reason == DeletionReason.WITHDRAWAL.value,
        col(DeletionOrder.confirmed_at).is_(None),
    )
    open_orders = session.exec(query).all()
    for order in open_orders:
        if order.node_id not in after:
            session.delete(order)
    ordered = {order.node_id for order in open_orders}
    for node_id in sorted(after - before - ordered):
        session.add(
            DeletionOrder(
                node_id=node_id,
                member_id=member_id,
                reason=DeletionReason.WITHDRAWAL.value,
                station_id=station_id,
                ordered_at=now,
            )
        )


def public(order: DeletionOrder) -> TemplateDeletionPublic:
    """The API view of a deletion order."""
    assert order.id is not None
    return TemplateDeletionPublic(
        id=order.id,
        member_id=order.member_id,
        node_id=order.node_id,
        station_id=order.station_id,
        reason=DeletionReason(order.reason),
        ordered_at=order.ordered_at,
        confirmed_at=order.confirmed_at,
    )


def of_member(session: Session, member_id: str) -> list[TemplateDeletionPublic]:
    """The deletion orders about a member's template, oldest first."""
    query = select(DeletionOrder).where(DeletionOrder.member_id == member_id)
    return [public(o) for o in session.exec(query.order_by(col(DeletionOrder.id))).all()]


def withdrawals(
    session: Session, station_ids: frozenset[str] | None, limit: int = 100
) -> list[TemplateDeletionPublic]:
    """The latest deletion orders after withdrawals, newest first: for a manager, those of
    consents at their stations or to their stations' nodes."""
    query = (
        select(DeletionOrder)
        .where(DeletionOrder.reason == DeletionReason.WITHDRAWAL.value)
        .order_by(col(DeletionOrder.id).desc())
        .limit(limit)
    )
    if station_ids is not None:
        stations = sorted(station_ids)
        their_nodes = select(Node.id).where(col(Node.station_id).in_(stations))
        query = query.where(
            or_(
                col(DeletionOrder.station_id).in_(stations),
                col(DeletionOrder.node_id).in_(their_nodes),
            )
        )
    return [public(o) for o in session.exec(query).all()]
