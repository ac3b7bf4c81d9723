"""A member's own way in and their rights: the member credential and the page it opens,
a copy of their data, correction, erasure and its deletion orders (PIPL art. 45-47)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse

from station.duty.api.access import PUBLIC, Caller, allow
from station.duty.db import ID_PATTERN
from station.duty.people import deletions, erasure, members, rights
from station.duty.people.audit import audit
from station.duty.people.models import (
    MemberPublic,
    MemberRevocation,
    MemberUpdate,
    Role,
)
from station.duty.people.rights_models import (
    ErasurePublic,
    IssuedMemberCredential,
    MemberCredentialRequest,
    MemberExport,
    TemplateDeletionPublic,
)
from station.duty.people.routes.members import member_in_reach
from station.duty.services import NowDep, ServicesDep, SessionDep

router = APIRouter(tags=["members"])

Keepers = Annotated[Caller, allow(Role.ADMIN, Role.MANAGER)]
Holders = Annotated[Caller, allow(Role.ADMIN, Role.MANAGER, Role.MEMBER)]


@router.post("/members/{member_id}/credential", status_code=201)
def issue_member_credential(
    services: ServicesDep,
    session: SessionDep,
    who: Keepers,
    now: NowDep,
    member_id: str,
    body: MemberCredentialRequest,
) -> IssuedMemberCredential:
    """Issue the member's own short-lived credential and the link to their entry-code page.

    The credential reaches only this member's page, data and codes for `scopes`: nothing of
    a staff member's goes on the phone. It rides in the link's fragment (`#c=`), which
    browsers never send to a server or a proxy.
    """
    member = member_in_reach(session, who, member_id, "member.credential")
    for scope in body.scopes:
        station = "" if scope.startswith("region:") else scope
        who.check_scope("member.credential", f"scope {scope}", station)
    if session.get(MemberRevocation, member_id) is not None:
        raise members.MemberConflictError(f"member {member_id!r} is revoked")
    ttl_s = body.ttl_s or services.settings.member_credential_ttl_s
    credential, claims = members.issue_member_credential(
        services.keys, member, body.scopes, ttl_s, now
    )
    audit(session, who, "member.credential", member_id, member.station_id, ",".join(body.scopes))
    session.commit()
    base = services.settings.console_url.rstrip("/")
    return IssuedMemberCredential(
        credential=credential,
        member_id=member_id,
        scopes=body.scopes,
        expires_at=claims.expires_at,
        page_url=f"{base}/api/v1/members/{member_id}/page#c={credential}",
    )


MEMBER_PAGE = Path(__file__).parents[2] / "static" / "member.html"


@router.get("/members/{member_id}/page", response_class=HTMLResponse, dependencies=[PUBLIC])
def member_page(
    member_id: Annotated[str, PathParam(pattern=ID_PATTERN)],  # noqa: ARG001  # read by the page
) -> HTMLResponse:
    """The member's entry-code page: it reads the member credential from the link's
    fragment and fetches a fresh code every 30 s with it in a header. It holds no data."""
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(MEMBER_PAGE.read_text(encoding="utf-8"), headers=headers)


@router.get("/members/{member_id}/export")
def export_member(session: SessionDep, who: Holders, now: NowDep, member_id: str) -> MemberExport:
    """Everything held about the member, as JSON (PIPL art. 45): the member, consents,
    revocation, visits, and who read or changed their data."""
    member = member_in_reach(session, who, member_id, "member.export")
    exported = rights.export_member(session, member, now)
    audit(session, who, "member.export", member_id, member.station_id)
    session.commit()
    return exported


@router.patch("/members/{member_id}")
def correct_member(
    session: SessionDep, who: Holders, member_id: str, body: MemberUpdate
) -> MemberPublic:
    """Correct the member's occupation or employer (PIPL art. 46)."""
    member = member_in_reach(session, who, member_id, "member.correct")
    changed = members.update_member(session, member, body)
    audit(session, who, "member.correct", member_id, member.station_id, ",".join(changed))
    session.commit()
    return members.public(session, member)


@router.delete("/members/{member_id}")
def erase_member(session: SessionDep, who: Holders, now: NowDep, member_id: str) -> ErasurePublic:
    """Erase the member (PIPL art. 47): the record goes, consents stay only as anonymous
    counts, visits lose the member id, and every node that may hold their face template
    gets a deletion order, confirmed back in its next sync (GET /erasures)."""
    member = member_in_reach(session, who, member_id, "member.erase")
    station_id = member.station_id
    record = rights.erase_member(session, member, who.name, now)
    audit(session, who, "member.erase", member_id, station_id)
    session.commit()
    return erasure.describe(session, record)


@router.get("/erasures")
def list_erasures(session: SessionDep, who: Keepers) -> list[ErasurePublic]:
    """The latest erasures (of the caller's stations) and each node's confirmation."""
    return erasure.erasures(session, who.station_ids)


@router.get("/withdrawals")
def list_withdrawals(session: SessionDep, who: Keepers) -> list[TemplateDeletionPublic]:
    """The latest template deletions ordered after face or sharing withdrawals (consents at
    the caller's stations, or to their nodes) and whether each node has confirmed it."""
    return deletions.withdrawals(session, who.station_ids)
