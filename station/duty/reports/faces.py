"""How many people's faces the nodes hold, against the filing threshold of the 2025 face
recognition measures (人脸识别技术应用安全管理办法, art. 15: a processor storing the faces
of 100,000 people files with the provincial cyberspace office within 30 working days).

Cloud-duty never holds a template, but a node keeps one only after cloud-duty has recorded
the face consent, and deletes it when that consent is withdrawn or the member erased: the
active consents, plus the deletions a node has yet to confirm, bound what the nodes hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, func, or_, union
from sqlmodel import Session, col, select

from station.duty.fleet.models import Node
from station.duty.people.models import ConsentKind, ConsentRecord
from station.duty.people.rights_models import DeletionOrder
from station.duty.reports.figures import FaceFiling


def _consenting(station_ids: list[str] | None) -> Any:
    """Members with an active face consent (at one of the stations), or whose template is
    shared with every node (an active sharing consent)."""
    face = col(ConsentRecord.kind) == ConsentKind.FACE.value
    if station_ids is not None:
        shared = col(ConsentRecord.kind) == ConsentKind.FACE_SHARING.value
        face = or_(and_(face, col(ConsentRecord.station_id).in_(station_ids)), shared)
    return select(ConsentRecord.member_id).where(face, col(ConsentRecord.withdrawn_at).is_(None))


def _deletions_unconfirmed(station_ids: list[str] | None) -> Any:
    """Members whose template some node (at one of the stations) has been ordered to delete,
    after an erasure or a withdrawal, and has not yet confirmed deleted."""
    query = select(DeletionOrder.member_id).where(col(DeletionOrder.confirmed_at).is_(None))
    if station_ids is not None:
        query = query.join(Node, col(Node.id) == col(DeletionOrder.node_id)).where(
            col(Node.station_id).in_(station_ids)
        )
    return query


def enrolled_faces(session: Session, station_ids: Iterable[str] | None) -> int:
    """The people whose face templates the nodes (of the stations; all when None) may hold."""
    ids = None if station_ids is None else sorted(station_ids)
    people = union(_consenting(ids), _deletions_unconfirmed(ids)).subquery()
    return int(session.exec(select(func.count()).select_from(people)).one())


def face_filing(
    session: Session, station_ids: Iterable[str] | None, threshold: int, warn_share: float
) -> FaceFiling:
    """The count of enrolled faces with the threshold and the count from which to warn."""
    return FaceFiling(
        enrolled=enrolled_faces(session, station_ids),
        threshold=threshold,
        warn_at=max(1, round(threshold * warn_share)),
        network=station_ids is None,
    )
