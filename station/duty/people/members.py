"""Members, consent, entry tokens and revocation: the services behind people/routes/members.py."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from station.duty.errors import ConflictError, NotFoundError
from station.duty.fleet.models import Node, Station
from station.duty.people import cards, deletions, erasure
from station.duty.people import consents as consent_texts
from station.duty.people.keys import KeyRing
from station.duty.people.models import (
    ConsentCreate,
    ConsentKind,
    ConsentRecord,
    EntrySync,
    Member,
    MemberCreate,
    MemberPublic,
    MemberRevocation,
    MemberUpdate,
    TokenPurpose,
    TokenRequest,
)
from station.duty.people.rights_models import DeletionReason
from station.tokens import EntryClaims

MAX_TOKEN_LIFETIME = timedelta(days=7)
ERASURE, WITHDRAWAL = DeletionReason.ERASURE, DeletionReason.WITHDRAWAL


class MemberNotFoundError(NotFoundError):
    """No such member, consent or station."""


class MemberConflictError(ConflictError):
    """The action does not fit the member's state (revoked, no face consent, ...)."""


def create_member(session: Session, keys: KeyRing, body: MemberCreate) -> Member:
    """Register a member under a fresh pseudonymous id, at a home station if given."""
    if body.station_id is not None and session.get(Station, body.station_id) is None:
        raise MemberNotFoundError(f"station {body.station_id!r} not found")
    hashed = None
    if body.phone:
        hashes = keys.phone_hashes(body.phone)
        hashed = hashes[0]
        same = session.exec(select(Member).where(col(Member.phone_hash).in_(hashes))).first()
        if same is not None:
            if same.phone_hash != hashed:  # matched under a previous key: move it on
                same.phone_hash = hashed
                session.add(same)
                session.commit()
            raise MemberConflictError("a member with this phone number exists")
    member = Member(
        id=f"m-{secrets.token_hex(8)}",
        occupation=body.occupation,
        employer_platform=body.employer_platform,
        phone_hash=hashed,
        station_id=body.station_id,
    )
    session.add(member)
    session.commit()
    session.refresh(member)
    return member


def update_member(session: Session, member: Member, body: MemberUpdate) -> list[str]:
    """Correct a member's occupation or employer; return the fields that changed."""
    changed = []
    for name, value in body.model_dump(exclude_none=True).items():
        if getattr(member, name) != value:
            setattr(member, name, value)
            changed.append(name)
    if changed:
        session.add(member)
        session.commit()
        session.refresh(member)
    return changed


def get_member(session: Session, member_id: str) -> Member:
    """Return a member or raise MemberNotFoundError."""
    member = session.get(Member, member_id)
    if member is None:
        raise MemberNotFoundError(f"member {member_id!r} not found")
    return member


def public(session: Session, member: Member) -> MemberPublic:
    """Return the API view of a member."""
    return MemberPublic(
        id=member.id,
        occupation=member.occupation,
        employer_platform=member.employer_platform,
        has_phone=member.phone_hash is not None,
        revoked=session.get(MemberRevocation, member.id) is not None,
        created_at=member.created_at,
        station_id=member.station_id,
    )


def _active(session: Session, member_id: str, kind: ConsentKind) -> list[ConsentRecord]:
    query = select(ConsentRecord).where(
        ConsentRecord.member_id == member_id,
        ConsentRecord.kind == kind.value,
        col(ConsentRecord.withdrawn_at).is_(None),
    )
    return list(session.exec(query))


def record_consent(
    session: Session, member_id: str, body: ConsentCreate, now: datetime
) -> ConsentRecord:
    """Record a consent given on a station's screen; sharing needs the face consent first."""
    get_member(session, member_id)
    if session.get(Station, body.station_id) is None:
        raise MemberNotFoundError(f"station {body.station_id!r} not found")
    if body.kind is ConsentKind.FACE_SHARING and not _active(session, member_id, ConsentKind.FACE):
        raise MemberConflictError("sharing a face needs the face consent first")
    text = consent_texts.checked(body.kind, body.text_version, body.text_sha256)
    before = deletions.nodes_to_delete(session, member_id)
    record = ConsentRecord(
        member_id=member_id,
        kind=body.kind.value,
        text_version=text.version,
        text_sha256=text.sha256,
        station_id=body.station_id,
        granted_at=now,
    )
    session.add(record)
    deletions.order_after_change(session, member_id, before, body.station_id, now)
    session.commit()
    session.refresh(record)
    return record


def withdraw_consent(
    session: Session, member_id: str, consent_id: int, now: datetime
) -> ConsentRecord:
    """Withdraw a consent; withdrawing the face consent also ends sharing. Each node that
    must now delete the member's template gets a deletion order, confirmed in its sync."""
    record = session.get(ConsentRecord, consent_id)
    if record is None or record.member_id != member_id:
        raise MemberNotFoundError(f"consent {consent_id} of member {member_id!r} not found")
    if record.withdrawn_at is None:
        before = deletions.nodes_to_delete(session, member_id)
        record.withdrawn_at = now
        session.add(record)
        if record.kind == ConsentKind.FACE.value:
            for sharing in _active(session, member_id, ConsentKind.FACE_SHARING):
                sharing.withdrawn_at = now
                session.add(sharing)
        deletions.order_after_change(session, member_id, before, record.station_id, now)
        session.commit()
        session.refresh(record)
    return record


def consents(session: Session, member_id: str) -> list[ConsentRecord]:
    """Return a member's consent records, oldest first."""
    get_member(session, member_id)
    query = select(ConsentRecord).where(ConsentRecord.member_id == member_id)
    return list(session.exec(query.order_by(col(ConsentRecord.id))))


def revoke(session: Session, member_id: str, reason: str, now: datetime) -> None:
    """Stop every node accepting the member's tokens (from their next sync)."""
    get_member(session, member_id)
    if session.get(MemberRevocation, member_id) is None:
        session.add(MemberRevocation(member_id=member_id, reason=reason, revoked_at=now))
        session.commit()


def reinstate(session: Session, member_id: str) -> None:
    """Lift a revocation."""
    row = session.get(MemberRevocation, member_id)
    if row is not None:
        session.delete(row)
        session.commit()


def issue_token(
    session: Session, keys: KeyRing, member_id: str, body: TokenRequest, now: datetime
) -> tuple[str, EntryClaims]:
    """Sign an entry token (or an enrolment code) for a member who is not revoked."""
    get_member(session, member_id)
    if session.get(MemberRevocation, member_id) is not None:
        raise MemberConflictError(f"member {member_id!r} is revoked")
    try:
        if body.purpose is TokenPurpose.ENROL:
            return keys.signer.issue_enrolment(member_id, body.scopes, now, body.ttl_s)
        return keys.signer.issue(member_id, body.scopes, now, body.ttl_s)
    except ValueError as err:
        raise MemberConflictError(str(err)) from err


def issue_member_credential(
    keys: KeyRing, member: Member, scopes: list[str], ttl_s: int, now: datetime
) -> tuple[str, EntryClaims]:
    """Sign a member's own short-lived credential, good for codes at `scopes` only."""
    try:
        return keys.signer.issue_member_credential(member.id, scopes, now, ttl_s)
    except ValueError as err:
        raise MemberConflictError(str(err)) from err


def _holders(session: Session, kind: ConsentKind, station_id: str | None = None) -> set[str]:
    """The members with an active consent of a kind (at a station, if one is named)."""
    query = select(ConsentRecord.member_id).where(
        ConsentRecord.kind == kind.value, col(ConsentRecord.withdrawn_at).is_(None)
    )
    if station_id is not None:
        query = query.where(ConsentRecord.station_id == station_id)
    return set(session.exec(query))


def face_withdrawn(session: Session, node_id: str | None) -> set[str]:
    """The members whose templates a node must delete: every member who ever gave the face
    consent, less those it may keep. A node keeps the members with an active face consent
    at its own station, and shared templates while the sharing consent stands: face
    withdrawal is per station, and withdrawing sharing deletes the shared copies. Without a
    node (an admin's sync), only members with no active face consent anywhere are listed."""
    face = ConsentKind.FACE.value
    ever = set(session.exec(select(ConsentRecord.member_id).where(ConsentRecord.kind == face)))
    node = session.get(Node, node_id) if node_id else None
    if node is None:
        return ever - _holders(session, ConsentKind.FACE)
    kept = _holders(session, ConsentKind.FACE, node.station_id)
    return ever - kept - _holders(session, ConsentKind.FACE_SHARING)


def entry_sync(session: Session, keys: KeyRing, node_id: str | None, now: datetime) -> EntrySync:
    """Return the keys, the revoked members, those with no face consent left, and (for a
    node) the erased and withdrawn members whose templates it must delete and confirm.

    Members erased within the longest token lifetime count as revoked too, so that codes
    issued before the erasure open no door.
    """
    revoked = {r.member_id for r in session.exec(select(MemberRevocation))}
    revoked |= erasure.erased_since(session, now - MAX_TOKEN_LIFETIME)
    return EntrySync(
        public_key=keys.public_key,
        public_keys=keys.public_keys,
        revoked=sorted(revoked),
        face_withdrawn=sorted(face_withdrawn(session, node_id)),
        erased=deletions.pending_for_node(session, node_id, ERASURE) if node_id else [],
        withdrawal_orders=(
            deletions.pending_for_node(session, node_id, WITHDRAWAL) if node_id else []
        ),
        revoked_cards=cards.revoked_ids(session),
    )
