"""Printed member cards: issue (staff of the card's station), list, print, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status

from station.duty.api.access import Caller, allow
from station.duty.errors import NotFoundError
from station.duty.fleet.models import Station
from station.duty.people import card_print, cards
from station.duty.people.audit import audit
from station.duty.people.cards import CardCreate, CardPublic, CardRevoke
from station.duty.people.models import Role
from station.duty.people.routes.members import member_in_reach
from station.duty.services import NowDep, ServicesDep, SessionDep

router = APIRouter(tags=["members"])

Issuers = Annotated[Caller, allow(Role.ADMIN, Role.MANAGER)]
"""Who issues and prints cards: admins, and managers for their own stations."""
Revokers = Annotated[Caller, allow(Role.ADMIN, Role.DUTY, Role.MANAGER)]


@router.post("/members/{member_id}/cards", status_code=status.HTTP_201_CREATED)
def issue_card(
    session: SessionDep, who: Issuers, now: NowDep, member_id: str, body: CardCreate
) -> CardPublic:
    """Issue a printed card that opens one station until it is revoked."""
    member = member_in_reach(session, who, member_id, "card.issue")
    who.check_scope("card.issue", f"station {body.station_id}", body.station_id)
    if session.get(Station, body.station_id) is None:
        raise NotFoundError(f"station {body.station_id!r} not found")
    card = cards.issue(session, member, body.station_id, who.name, now)
    audit(session, who, "card.issue", member_id, body.station_id, card.id)
    session.commit()
    return cards.public(card)


@router.get("/members/{member_id}/cards")
def list_cards(session: SessionDep, who: Revokers, member_id: str) -> list[CardPublic]:
    """A member's printed cards, revoked ones too."""
    member = member_in_reach(session, who, member_id, "card.read")
    found = cards.of_member(session, member_id)
    audit(session, who, "card.read", member_id, member.station_id)
    session.commit()
    return [cards.public(c) for c in found]


@router.get("/members/{member_id}/cards/{card_id}/card.png", response_class=Response)
def print_card(
    services: ServicesDep, session: SessionDep, who: Issuers, member_id: str, card_id: str
) -> Response:
    """The printable card (PNG, 85.6 x 54 mm at 300 dpi); a reprint is the same card."""
    member_in_reach(session, who, member_id, "card.print")
    card = cards.get(session, member_id, card_id)
    who.check_scope("card.print", f"card {card_id}", card.station_id)
    station = session.get(Station, card.station_id)
    face = card_print.CardFace(
        card_id=card.id,
        station_name=station.name if station is not None else card.station_id,
        issued_on=card.issued_at.date().isoformat(),
    )
    png = card_print.render_card(
        cards.token(services.keys, card), face, services.settings.card_font
    )
    audit(session, who, "card.print", member_id, card.station_id, card.id)
    session.commit()
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/members/{member_id}/cards/{card_id}/revoke")
def revoke_card(
    session: SessionDep,
    who: Revokers,
    now: NowDep,
    member_id: str,
    card_id: str,
    body: CardRevoke,
) -> CardPublic:
    """Revoke a lost or returned card; every node refuses it from its next entry sync."""
    member_in_reach(session, who, member_id, "card.revoke")
    card = cards.revoke(session, cards.get(session, member_id, card_id), body.reason, now)
    audit(session, who, "card.revoke", member_id, card.station_id, f"{card.id} {body.reason}")
    session.commit()
    return cards.public(card)
