"""Members, consent, entry tokens, revocation and station occupancy.

A manager reaches the members of their stations, a member themselves only (with their own
credential), admins everyone; duty staff may read a member and revoke entry (e.g. at night).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import ValidationError

from station.duty.api.access import Caller, StaffDep, allow
from station.duty.errors import InvalidRequestError, NotFoundError
from station.duty.fleet.models import Station
from station.duty.people import members, visits
from station.duty.people.audit import audit
from station.duty.people.models import (
    ConsentCreate,
    ConsentPublic,
    IssuedToken,
    Member,
    MemberCreate,
    MemberPublic,
    Role,
    TokenPurpose,
    TokenRequest,
)
from station.duty.services import NowDep, RowId, ServicesDep, SessionDep
from station.tokens import qr_png

router = APIRouter(tags=["members"])

Keepers = Annotated[Caller, allow(Role.ADMIN, Role.MANAGER)]
"""Who registers members, records consent and issues codes: admins, and managers at theirs."""
Readers = Annotated[Caller, allow(Role.ADMIN, Role.DUTY, Role.MANAGER, Role.MEMBER)]
Holders = Annotated[Caller, allow(Role.ADMIN, Role.MANAGER, Role.MEMBER)]
Revokers = Annotated[Caller, allow(Role.ADMIN, Role.DUTY, Role.MANAGER)]


def member_in_reach(session: SessionDep, who: Caller, member_id: str, action: str) -> Member:
    """The member, if the caller may reach them (403 audited, 404 if there is none)."""
    member = members.get_member(session, member_id)
    who.check_member(action, member)
    return member


def _check_token_scopes(who: Caller, scopes: list[str]) -> None:
    """Codes only for the caller's own stations: a manager's, or a member credential's."""
    if who.station_ids is None:
        return
    for scope in scopes:
        station = "" if scope.startswith("region:") else scope
        who.check_scope("token.issue", f"scope {scope}", station)


@router.post("/members", status_code=status.HTTP_201_CREATED)
def create_member(
    services: ServicesDep, session: SessionDep, who: Keepers, body: MemberCreate
) -> MemberPublic:
    """Register a member under a new pseudonymous id, at a home station."""
    if who.station_ids is not None:
        if body.station_id is None:
            raise who.deny("member.create", "", None, "name the member's home station")
        who.check_scope("member.create", f"station {body.station_id}", body.station_id)
    member = members.create_member(session, services.keys, body)
    audit(session, who, "member.create", member.id, member.station_id)
    session.commit()
    return members.public(session, member)


@router.get("/members/{member_id}")
def read_member(session: SessionDep, who: Readers, member_id: str) -> MemberPublic:
    """Show one member (an audited read of personal data)."""
    member = member_in_reach(session, who, member_id, "member.read")
    audit(session, who, "member.read", member_id, member.station_id)
    session.commit()
    return members.public(session, member)


@router.get("/members/{member_id}/consents")
def list_consents(session: SessionDep, who: Readers, member_id: str) -> list[ConsentPublic]:
    """List a member's consent records."""
    member = member_in_reach(session, who, member_id, "consent.read")
    records = members.consents(session, member_id)
    audit(session, who, "consent.read", member_id, member.station_id)
    session.commit()
    return [ConsentPublic.model_validate(r, from_attributes=True) for r in records]


@router.post("/members/{member_id}/consents", status_code=status.HTTP_201_CREATED)
def give_consent(
    session: SessionDep,
    who: Annotated[Caller, allow(Role.ADMIN, Role.MANAGER, Role.NODE)],
    now: NowDep,
    member_id: str,
    body: ConsentCreate,
) -> ConsentPublic:
    """Record a consent the member gave on a station's screen (the station's node, or its
    manager), to a published consent text."""
    who.check_scope(f"consent.{body.kind.value}", f"station {body.station_id}", body.station_id)
    record = members.record_consent(session, member_id, body, now)
    audit(session, who, f"consent.{body.kind.value}", member_id, body.station_id, body.text_version)
    session.commit()
    return ConsentPublic.model_validate(record, from_attributes=True)


@router.post("/members/{member_id}/consents/{consent_id}/withdraw")
def withdraw_consent(
    session: SessionDep, who: Holders, now: NowDep, member_id: str, consent_id: RowId
) -> ConsentPublic:
    """Withdraw a consent; nodes delete the face template at their next sync."""
    member_in_reach(session, who, member_id, "consent.withdraw")
    record = members.withdraw_consent(session, member_id, consent_id, now)
    audit(session, who, "consent.withdraw", member_id, record.station_id)
    session.commit()
    return ConsentPublic.model_validate(record, from_attributes=True)


@router.post("/members/{member_id}/revoke", status_code=status.HTTP_204_NO_CONTENT)
def revoke_member(
    session: SessionDep,
    who: Revokers,
    now: NowDep,
    member_id: str,
    reason: Annotated[str, Query(max_length=200, description="Why, for the record.")] = "",
) -> None:
    """Stop every node accepting the member's tokens from their next sync."""
    member = member_in_reach(session, who, member_id, "member.revoke")
    members.revoke(session, member_id, reason, now)
    audit(session, who, "member.revoke", member_id, member.station_id, detail=reason)
    session.commit()


@router.post("/members/{member_id}/reinstate", status_code=status.HTTP_204_NO_CONTENT)
def reinstate_member(session: SessionDep, who: Keepers, member_id: str) -> None:
    """Lift a revocation."""
    member = member_in_reach(session, who, member_id, "member.reinstate")
    members.reinstate(session, member_id)
    audit(session, who, "member.reinstate", member_id, member.station_id)
    session.commit()


@router.post("/members/{member_id}/tokens", status_code=status.HTTP_201_CREATED)
def issue_token(
    services: ServicesDep,
    session: SessionDep,
    who: Holders,
    now: NowDep,
    member_id: str,
    body: TokenRequest,
) -> IssuedToken:
    """Issue a signed entry token for the member (or, purpose enrol, a code that starts face
    enrolment at the door and opens none), good only where the caller may act."""
    action = "token.enrol" if body.purpose is TokenPurpose.ENROL else "token.issue"
    member_in_reach(session, who, member_id, action)
    _check_token_scopes(who, body.scopes)
    token, claims = members.issue_token(session, services.keys, member_id, body, now)
    audit(session, who, action, member_id, detail=",".join(body.scopes))
    session.commit()
    return IssuedToken(token=token, member_id=member_id, expires_at=claims.expires_at)


@router.get("/members/{member_id}/qr.png", response_class=Response)
def token_qr(
    services: ServicesDep,
    session: SessionDep,
    who: Holders,
    now: NowDep,
    member_id: str,
    scope: Annotated[list[str], Query(min_length=1, max_length=8, description="Stations.")],
    ttl_s: Annotated[int, Query(ge=5, le=3600, description="Lifetime in seconds.")] = 30,
    purpose: Annotated[
        TokenPurpose, Query(description="entry, or enrol: face enrolment at the door.")
    ] = TokenPurpose.ENTRY,
) -> Response:
    """Issue a fresh token and return it as a PNG QR code (never cached)."""
    try:
        request = TokenRequest(scopes=scope, ttl_s=ttl_s, purpose=purpose)
    except ValidationError as err:
        raise InvalidRequestError(str(err.errors()[0]["msg"])) from err
    issued = issue_token(services, session, who, now, member_id, request)
    return Response(
        qr_png(issued.token), media_type="image/png", headers={"Cache-Control": "no-store"}
    )


@router.get("/stations/{station_id}/occupancy")
def station_occupancy(
    session: SessionDep,
    who: StaffDep,
    now: NowDep,
    station_id: str,
    hours: Annotated[float, Query(gt=0, le=24 * 31, description="Window for dwell time.")] = 24,
) -> visits.Occupancy:
    """People inside now, and visits and dwell time over the last `hours`."""
    who.check_scope("read occupancy", f"station {station_id}", station_id)
    if session.get(Station, station_id) is None:
        raise NotFoundError(f"station {station_id!r} not found")
    return visits.occupancy(session, station_id, now - timedelta(hours=hours))
