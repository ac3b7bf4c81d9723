"""What nodes pull and confirm (entry sync, deletions), and the published consent texts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from station.duty.api.access import PUBLIC, Caller, allow
from station.duty.people import consents, deletions, members
from station.duty.people.audit import audit
from station.duty.people.consents import ConsentTextPublic
from station.duty.people.models import (
    ConsentKind,
    EntrySync,
    Role,
)
from station.duty.people.rights_models import (
    DeletionReceipt,
    DeletionReport,
)
from station.duty.services import NowDep, ServicesDep, SessionDep

router = APIRouter(tags=["entry"])


@router.get("/entry/sync")
def entry_sync(
    services: ServicesDep,
    session: SessionDep,
    who: Annotated[Caller, allow(Role.ADMIN, Role.NODE)],
    now: NowDep,
) -> EntrySync:
    """What a node pulls: the public keys, revoked members, withdrawn face consents, and
    the erased and withdrawn members whose templates it must delete and confirm (POST
    /entry/deletions)."""
    return members.entry_sync(session, services.keys, who.principal.node_id, now)


@router.post("/entry/deletions")
def confirm_deletions(
    session: SessionDep,
    who: Annotated[Caller, allow(Role.NODE)],
    now: NowDep,
    body: DeletionReport,
) -> DeletionReceipt:
    """A node confirms the templates it has deleted, after an erasure or a withdrawal; its
    own open deletion orders of that reason close (no other node's)."""
    node_id = who.principal.node_id
    assert node_id is not None
    confirmed = deletions.confirm_deletions(session, node_id, body.member_ids, body.reason, now)
    if confirmed:
        detail = f"{confirmed} {body.reason.value} orders"
        audit(session, who, "confirm deletions", f"node {node_id}", None, detail)
        session.commit()
    return DeletionReceipt(confirmed=confirmed)


@router.get("/consent-texts", dependencies=[PUBLIC])
def list_consent_texts() -> list[ConsentTextPublic]:
    """Every published consent text, oldest version first (zh-CN first, then English)."""
    return [
        consents.public(consents.consent_text(kind, version))
        for kind in ConsentKind
        for version in consents.versions(kind)
    ]


@router.get("/consent-texts/{kind}/{version}", dependencies=[PUBLIC])
def read_consent_text(kind: ConsentKind, version: str) -> ConsentTextPublic:
    """One consent text and its SHA-256, as a consent record names it."""
    return consents.public(consents.consent_text(kind, version))
