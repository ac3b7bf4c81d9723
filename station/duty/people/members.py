"""Members, consent, entry tokens and revocation: the services behind people/routes/members.py."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from station.duty.errors import ConflictError, NotFoundError
from station.duty.fleet.models import Station
from station.duty.people.models import (
    ConsentCreate,
    ConsentKind,
    ConsentRecord,
    EntryKey,
    EntrySync,
    Member,
    MemberCreate,
    MemberPublic,
    MemberRevocation,
    TokenRequest,
)
from station.tokens import EntryClaims, TokenSigner, new_private_key, public_key_of


class MemberNotFoundError(NotFoundError):
    """No such member, consent or station."""


class MemberConflictError(ConflictError):
    """The action does not fit the member's state (revoked, no face consent, ...)."""


@dataclass(frozen=True)
class Keys:
    """The signing key and the phone-hash key."""

    signer: TokenSigner
    public_key: str
    phone_key: bytes


def entry_keys(session: Session) -> Keys:
    """Return the keys, making them on first use (one row; the first replica wins)."""
    row = session.get(EntryKey, 1)
    if row is None:
        session.add(EntryKey(private_key=new_private_key().hex(), phone_key=secrets.token_hex(32)))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        row = session.get(EntryKey, 1)
        assert row is not None
    private = bytes.fromhex(row.private_key)
    return Keys(TokenSigner(private), public_key_of(private), bytes.fromhex(row.phone_key))


def phone_hash(keys: Keys, phone: str) -> str:
    """Keyed hash of a phone number, digits only, so it can be matched but not read."""
    digits = re.sub(r"[^0-9]", "", phone)
    return hmac.new(keys.phone_key, digits.encode(), hashlib.sha256).hexdigest()


def create_member(session: Session, body: MemberCreate) -> Member:
    """Register a member under a fresh pseudonymous id."""
    keys = entry_keys(session)
    hashed = phone_hash(keys, body.phone) if body.phone else None
    if hashed and session.exec(select(Member).where(Member.phone_hash == hashed)).first():
        raise MemberConflictError("a member with this phone number exists")
    member = Member(
        id=f"m-{secrets.token_hex(8)}",
        occupation=body.occupation,
        employer_platform=body.employer_platform,
        phone_hash=hashed,
    )
    session.add(member)
    session.commit()
    session.refresh(member)
    return member


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
    record = ConsentRecord(
        member_id=member_id,
        kind=body.kind.value,
        text_version=body.text_version,
        station_id=body.station_id,
        granted_at=now,
    )
    session.add(record)
    session.commit()
    session.refresh(record)
    return record


def withdraw_consent(
    session: Session, member_id: str, consent_id: int, now: datetime
) -> ConsentRecord:
    """Withdraw a consent; withdrawing the face consent also ends sharing."""
    record = session.get(ConsentRecord, consent_id)
    if record is None or record.member_id != member_id:
        raise MemberNotFoundError(f"consent {consent_id} of member {member_id!r} not found")
    if record.withdrawn_at is None:
        record.withdrawn_at = now
        session.add(record)
        if record.kind == ConsentKind.FACE.value:
            for sharing in _active(session, member_id, ConsentKind.FACE_SHARING):
                sharing.withdrawn_at = now
                session.add(sharing)
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
    session: Session, member_id: str, body: TokenRequest, now: datetime
) -> tuple[str, EntryClaims]:
    """Sign an entry token for a member who is not revoked."""
    get_member(session, member_id)
    if session.get(MemberRevocation, member_id) is not None:
        raise MemberConflictError(f"member {member_id!r} is revoked")
    try:
        return entry_keys(session).signer.issue(member_id, body.scopes, now, body.ttl_s)
    except ValueError as err:
        raise MemberConflictError(str(err)) from err


def entry_sync(session: Session) -> EntrySync:
    """Return the public key, the revoked members and those with no face consent left."""
    revoked = sorted(r.member_id for r in session.exec(select(MemberRevocation)))
    ever = set(
        session.exec(
            select(ConsentRecord.member_id).where(ConsentRecord.kind == ConsentKind.FACE.value)
        )
    )
    active = set(
        session.exec(
            select(ConsentRecord.member_id).where(
                ConsentRecord.kind == ConsentKind.FACE.value,
                col(ConsentRecord.withdrawn_at).is_(None),
            )
        )
    )
    keys = entry_keys(session)
    return EntrySync(
        public_key=keys.public_key, revoked=revoked, face_withdrawn=sorted(ever - active)
    )
