"""Printed member cards: a way in without a phone, good at one station until revoked.

Cloud-duty keeps the card's claims, never its token: the token is signed again from them
(Ed25519 is deterministic) when the card is printed, so a reprint is the same card, and a
revoked card id reaches every node in its next entry sync.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydanticField
from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, col, select

from station.duty.db import ID_PATTERN, UTCDateTime, utc_field
from station.duty.errors import ConflictError, NotFoundError
from station.duty.people.keys import KeyRing
from station.duty.people.models import Member, MemberRevocation
from station.tokens import CardClaims, issue_card


class MemberCard(SQLModel, table=True):
    """A printed card: who it lets in, where, and whether it is revoked."""

    __tablename__ = "member_card"

    id: str = Field(primary_key=True, max_length=64)
    # No foreign key: an erased member's card rows stay, revoked and without the member id.
    member_id: str | None = Field(default=None, max_length=64, index=True)
    station_id: str = Field(max_length=64)
    issued_at: datetime = Field(sa_type=UTCDateTime)
    issued_by: str = Field(max_length=64)
    revoked_at: datetime | None = utc_field(nullable=True)
    revoked_reason: str = Field(default="", max_length=200)


class CardCreate(BaseModel):
    """A card to print for a member."""

    model_config = ConfigDict(extra="forbid")

    station_id: str = PydanticField(
        pattern=ID_PATTERN, max_length=64, description="The station the card opens."
    )


class CardRevoke(BaseModel):
    """Why a card stops working (lost, stolen, returned)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = PydanticField(default="", max_length=200, description="For the record.")


class CardPublic(BaseModel):
    """A card as the API shows it (never its token)."""

    id: str = PydanticField(description="Card id, printed on the card.")
    member_id: str | None = PydanticField(description="Its member; none once erased.")
    station_id: str = PydanticField(description="The station it opens.")
    issued_at: datetime = PydanticField(description="When it was issued.")
    issued_by: str = PydanticField(description="Who issued it.")
    revoked_at: datetime | None = PydanticField(description="When it was revoked, if it was.")
    revoked_reason: str = PydanticField(description="Why it was revoked.")


class CardNotFoundError(NotFoundError):
    """No such card of this member."""


class CardConflictError(ConflictError):
    """The card cannot be issued to a revoked member."""


def public(card: MemberCard) -> CardPublic:
    """Return the API view of a card."""
    return CardPublic.model_validate(card, from_attributes=True)


def issue(session: Session, member: Member, station_id: str, who: str, now: datetime) -> MemberCard:
    """Issue a card for a member who is not revoked (added and committed)."""
    if session.get(MemberRevocation, member.id) is not None:
        raise CardConflictError(f"member {member.id!r} is revoked")
    card = MemberCard(
        id=f"c-{secrets.token_hex(6)}",
        member_id=member.id,
        station_id=station_id,
        issued_at=now.replace(microsecond=0),
        issued_by=who[:64],
    )
    session.add(card)
    session.commit()
    session.refresh(card)
    return card


def of_member(session: Session, member_id: str) -> list[MemberCard]:
    """A member's cards, oldest first."""
    query = select(MemberCard).where(MemberCard.member_id == member_id)
    return list(session.exec(query.order_by(col(MemberCard.issued_at), col(MemberCard.id))))


def get(session: Session, member_id: str, card_id: str) -> MemberCard:
    """One card of a member, or CardNotFoundError."""
    card = session.get(MemberCard, card_id)
    if card is None or card.member_id != member_id:
        raise CardNotFoundError(f"card {card_id!r} of member {member_id!r} not found")
    return card


def revoke(session: Session, card: MemberCard, reason: str, now: datetime) -> MemberCard:
    """Revoke a card (again: no change); nodes refuse it from their next sync."""
    if card.revoked_at is None:
        card.revoked_at = now
        card.revoked_reason = reason
        session.add(card)
        session.commit()
        session.refresh(card)
    return card


def revoke_all_of(session: Session, member_id: str, reason: str, now: datetime) -> None:
    """Revoke every card of a member and drop the member id from them (added, not committed)."""
    session.exec(
        update(MemberCard)
        .where(col(MemberCard.member_id) == member_id, col(MemberCard.revoked_at).is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    session.exec(
        update(MemberCard).where(col(MemberCard.member_id) == member_id).values(member_id=None)
    )


def revoked_ids(session: Session) -> list[str]:
    """Every revoked card id, for the nodes' entry sync."""
    query = select(MemberCard.id).where(col(MemberCard.revoked_at).is_not(None))
    return sorted(session.exec(query))


def token(keys: KeyRing, card: MemberCard) -> str:
    """The card's signed token, from its stored claims, with the current key."""
    if card.member_id is None or card.revoked_at is not None:
        raise CardConflictError(f"card {card.id!r} is revoked; issue a new one")
    claims = CardClaims(card.id, card.member_id, card.station_id, card.issued_at)
    return issue_card(keys.signer, claims)
