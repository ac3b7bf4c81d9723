"""A member's rights over their data (PIPL art. 45-47): a copy of everything held about
them, and erasure. Correction is `members.update_member`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from station.duty.people import cards, deletions, erasure, members
from station.duty.people.models import (
    AuditEntry,
    AuditPublic,
    ConsentPublic,
    ConsentRecord,
    Member,
    MemberRevocation,
    VisitPublic,
    VisitRecord,
)
from station.duty.people.rights_models import (
    ConsentTally,
    MemberErasure,
    MemberExport,
)


def export_member(session: Session, member: Member, now: datetime) -> MemberExport:
    """Everything cloud-duty holds about the member, and who read or changed it."""
    revocation = session.get(MemberRevocation, member.id)
    visits = session.exec(
        select(VisitRecord)
        .where(VisitRecord.member_id == member.id)
        .order_by(col(VisitRecord.entered_at))
    ).all()
    trail = session.exec(
        select(AuditEntry)
        .where(col(AuditEntry.target).in_([member.id, f"member {member.id}"]))
        .order_by(col(AuditEntry.id))
    ).all()
    return MemberExport(
        exported_at=now,
        member=members.public(session, member),
        consents=[
            ConsentPublic.model_validate(r, from_attributes=True)
            for r in members.consents(session, member.id)
        ],
        revocation=(
            {"reason": revocation.reason, "revoked_at": revocation.revoked_at.isoformat()}
            if revocation
            else None
        ),
        visits=[VisitPublic.model_validate(v, from_attributes=True) for v in visits],
        cards=[cards.public(c) for c in cards.of_member(session, member.id)],
        audit=[AuditPublic.model_validate(a, from_attributes=True) for a in trail],
        template_deletions=deletions.of_member(session, member.id),
    )


def _tally(session: Session, record: ConsentRecord) -> None:
    key = (record.station_id, record.kind, record.text_version)
    tally = session.get(ConsentTally, key) or ConsentTally(
        station_id=record.station_id, kind=record.kind, text_version=record.text_version
    )
    tally.granted += 1
    tally.withdrawn += record.withdrawn_at is not None
    session.add(tally)


def erase_member(session: Session, member: Member, who: str, now: datetime) -> MemberErasure:
    """Erase a member: their row and revocation go, their consents become anonymous counts,
    their visits lose their member id, and each node that may hold their template gets a
    deletion order. One transaction: all of it or none."""
    nodes = erasure.nodes_holding(session, member.id)
    for record in session.exec(select(ConsentRecord).where(ConsentRecord.member_id == member.id)):
        _tally(session, record)
        session.delete(record)
    session.exec(
        update(VisitRecord).where(col(VisitRecord.member_id) == member.id).values(member_id=None)
    )
    revocation = session.get(MemberRevocation, member.id)
    if revocation is not None:
        session.delete(revocation)
    cards.revoke_all_of(session, member.id, "erased", now)
    erased = erasure.order_deletions(session, member.id, member.station_id, nodes, who, now)
    session.flush()
    session.delete(member)
    session.commit()
    session.refresh(erased)
    return erased
