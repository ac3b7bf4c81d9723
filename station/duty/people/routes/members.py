"""Members, consent, entry tokens, revocation, node sync and station occupancy."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse

from station.duty.api.access import Caller, CallerDep
from station.duty.errors import NotFoundError
from station.duty.fleet.models import Station
from station.duty.people import members, visits
from station.duty.people.audit import audit
from station.duty.people.models import (
    ConsentCreate,
    ConsentPublic,
    EntrySync,
    IssuedToken,
    MemberCreate,
    MemberPublic,
    TokenRequest,
)
from station.duty.services import NowDep, SessionDep
from station.tokens import qr_png

router = APIRouter(tags=["members"])


def _check_token_scopes(who: Caller, scopes: list[str]) -> None:
    """A manager issues codes for their own stations only; regions need a wider role."""
    if who.station_ids is None:
        return
    for scope in scopes:
        station = "" if scope.startswith("region:") else scope
        who.check_scope("token.issue", f"scope {scope}", station)


@router.post("/members", status_code=status.HTTP_201_CREATED)
def create_member(session: SessionDep, who: CallerDep, body: MemberCreate) -> MemberPublic:
    """Register a member under a new pseudonymous id."""
    member = members.create_member(session, body)
    audit(session, who, "member.create", member.id)
    session.commit()
    return members.public(session, member)


@router.get("/members/{member_id}")
def read_member(session: SessionDep, who: CallerDep, member_id: str) -> MemberPublic:
    """Show one member (an audited read of personal data)."""
    member = members.get_member(session, member_id)
    audit(session, who, "member.read", member_id)
    session.commit()
    return members.public(session, member)


@router.get("/members/{member_id}/consents")
def list_consents(session: SessionDep, who: CallerDep, member_id: str) -> list[ConsentPublic]:
    """List a member's consent records."""
    records = members.consents(session, member_id)
    audit(session, who, "consent.read", member_id)
    session.commit()
    return [ConsentPublic.model_validate(r, from_attributes=True) for r in records]


@router.post("/members/{member_id}/consents", status_code=status.HTTP_201_CREATED)
def give_consent(
    session: SessionDep, who: CallerDep, now: NowDep, member_id: str, body: ConsentCreate
) -> ConsentPublic:
    """Record a consent the member gave on a station's screen."""
    record = members.record_consent(session, member_id, body, now)
    audit(session, who, f"consent.{body.kind.value}", member_id, body.station_id)
    session.commit()
    return ConsentPublic.model_validate(record, from_attributes=True)


@router.post("/members/{member_id}/consents/{consent_id}/withdraw")
def withdraw_consent(
    session: SessionDep, who: CallerDep, now: NowDep, member_id: str, consent_id: int
) -> ConsentPublic:
    """Withdraw a consent; nodes delete the face template at their next sync."""
    record = members.withdraw_consent(session, member_id, consent_id, now)
    audit(session, who, "consent.withdraw", member_id, record.station_id)
    session.commit()
    return ConsentPublic.model_validate(record, from_attributes=True)


@router.post("/members/{member_id}/revoke", status_code=status.HTTP_204_NO_CONTENT)
def revoke_member(
    session: SessionDep,
    who: CallerDep,
    now: NowDep,
    member_id: str,
    reason: Annotated[str, Query(max_length=200, description="Why, for the record.")] = "",
) -> None:
    """Stop every node accepting the member's tokens from their next sync."""
    members.revoke(session, member_id, reason, now)
    audit(session, who, "member.revoke", member_id, detail=reason)
    session.commit()


@router.post("/members/{member_id}/reinstate", status_code=status.HTTP_204_NO_CONTENT)
def reinstate_member(session: SessionDep, who: CallerDep, member_id: str) -> None:
    """Lift a revocation."""
    members.reinstate(session, member_id)
    audit(session, who, "member.reinstate", member_id)
    session.commit()


@router.post("/members/{member_id}/tokens", status_code=status.HTTP_201_CREATED)
def issue_token(
    session: SessionDep,
    who: CallerDep,
    now: NowDep,
    member_id: str,
    body: TokenRequest,
) -> IssuedToken:
    """Issue a signed entry token for the member, good only where the caller may act."""
    _check_token_scopes(who, body.scopes)
    token, claims = members.issue_token(session, member_id, body, now)
    audit(session, who, "token.issue", member_id, detail=",".join(body.scopes))
    session.commit()
    return IssuedToken(token=token, member_id=member_id, expires_at=claims.expires_at)


@router.get("/members/{member_id}/qr.png", response_class=Response)
def token_qr(
    session: SessionDep,
    who: CallerDep,
    now: NowDep,
    member_id: str,
    scope: Annotated[list[str], Query(min_length=1, max_length=8, description="Stations.")],
    ttl_s: Annotated[int, Query(ge=5, le=3600, description="Lifetime in seconds.")] = 30,
) -> Response:
    """Issue a fresh token and return it as a PNG QR code."""
    issued = issue_token(session, who, now, member_id, TokenRequest(scopes=scope, ttl_s=ttl_s))
    return Response(qr_png(issued.token), media_type="image/png")


_PAGE = """<!doctype html><meta charset="utf-8"><title>Entry code</title>
<body style="font-family:sans-serif;text-align:center">
<h1>Show this at the door</h1><img id="qr" alt="entry QR code" width="320">
<p>It refreshes every 30 s.</p>
<script>
const src = {src};
function load() {{ document.getElementById("qr").src = src + "&t=" + Date.now(); }}
load(); setInterval(load, 30000);
</script></body>"""


@router.get("/members/{member_id}/page", response_class=HTMLResponse)
def member_page(
    session: SessionDep,
    member_id: str,
    scope: Annotated[list[str], Query(min_length=1, max_length=8, description="Stations.")],
    access_token: Annotated[str, Query(description="The caller's token, for the image.")],
) -> str:
    """A page that shows the member a QR code that refreshes itself every 30 s."""
    members.get_member(session, member_id)
    query = "&".join(f"scope={escape(s, quote=True)}" for s in scope)
    src = f"qr.png?{query}&ttl_s=40&access_token={escape(access_token, quote=True)}"
    return _PAGE.format(src=repr(src))


@router.get("/entry/sync")
def entry_sync(session: SessionDep) -> EntrySync:
    """What nodes pull: the public key, revoked members, withdrawn face consents."""
    return members.entry_sync(session)


@router.get("/stations/{station_id}/occupancy")
def station_occupancy(
    session: SessionDep,
    who: CallerDep,
    now: NowDep,
    station_id: str,
    hours: Annotated[float, Query(gt=0, le=24 * 31, description="Window for dwell time.")] = 24,
) -> visits.Occupancy:
    """People inside now, and visits and dwell time over the last `hours`."""
    who.check_scope("read occupancy", f"station {station_id}", station_id)
    if session.get(Station, station_id) is None:
        raise NotFoundError(f"station {station_id!r} not found")
    return visits.occupancy(session, station_id, now - timedelta(hours=hours))
