"""Tables and API shapes of a member's rights and own access: the member credential,
erasure with its deletion orders to nodes, consent counts kept after erasure, the export."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Field, SQLModel

from station.duty.db import UTCDateTime
from station.duty.people.cards import CardPublic
from station.duty.people.models import AuditPublic, ConsentPublic, MemberPublic, VisitPublic


class DeletionReason(StrEnum):
    """Why a node must delete a member's face template."""

    ERASURE = "erasure"
    WITHDRAWAL = "withdrawal"


class MemberCredentialRequest(BaseModel):
    """Body to issue a member's own short-lived credential for their entry-code page."""

    model_config = ConfigDict(extra="forbid")
    scopes: list[str] = Field(
        min_length=1, max_length=8, description="Stations the member's codes may open."
    )
    ttl_s: int | None = Field(
        default=None, ge=60, le=7 * 24 * 3600, description="Lifetime; default from settings."
    )


class IssuedMemberCredential(BaseModel):
    """A member credential, and the page that uses it (the credential rides in the fragment,
    which browsers never send to a server or a proxy)."""

    credential: str
    member_id: str
    scopes: list[str]
    expires_at: datetime
    page_url: str


class DeletionReport(BaseModel):
    """Members whose templates a node has deleted, confirming its own open deletion orders
    of that reason (an erasure, if none is given: what nodes before withdrawals sent)."""

    model_config = ConfigDict(extra="forbid")
    member_ids: list[str] = Field(max_length=10_000)
    reason: DeletionReason = DeletionReason.ERASURE


class DeletionReceipt(BaseModel):
    """How many open deletion orders a report confirmed."""

    confirmed: int


class ConsentTally(SQLModel, table=True):
    """Consents of erased members, kept only as counts per station, kind and text version."""

    __tablename__ = "consent_tally"

    station_id: str = Field(foreign_key="station.id", primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=16)
    text_version: str = Field(primary_key=True, max_length=32)
    granted: int = Field(default=0, description="Consents given by members since erased.")
    withdrawn: int = Field(default=0, description="Of those, withdrawn before the erasure.")


class MemberErasure(SQLModel, table=True):
    """A member erased at their request: the record of it, and the nodes that must delete."""

    __tablename__ = "member_erasure"

    id: int | None = Field(default=None, primary_key=True)
    member_id: str = Field(
        max_length=64, index=True, description="The pseudonymous id, for nodes to delete by."
    )
    station_id: str | None = Field(default=None, max_length=64, index=True)
    erased_at: datetime = Field(sa_type=UTCDateTime)
    erased_by: str = Field(max_length=128)


class DeletionOrder(SQLModel, table=True):
    """An order to one node to delete a member's template (after an erasure, or after a
    face or sharing consent is withdrawn), open until the node confirms it in a sync."""

    __tablename__ = "deletion_order"

    id: int | None = Field(default=None, primary_key=True)
    node_id: str = Field(foreign_key="node.id", max_length=64, index=True)
    member_id: str = Field(max_length=64, index=True, description="Kept after an erasure.")
    reason: str = Field(max_length=16, description="A DeletionReason.")
    erasure_id: int | None = Field(
        default=None, foreign_key="member_erasure.id", index=True, nullable=True
    )
    station_id: str | None = Field(
        default=None, max_length=64, description="Where the erased member or the consent was."
    )
    ordered_at: datetime = Field(sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ErasureOrderPublic(BaseModel):
    """One node's deletion order and its confirmation."""

    node_id: str
    confirmed_at: datetime | None


class ErasurePublic(BaseModel):
    """An erasure as the API shows it: when, by whom, and which nodes have confirmed."""

    id: int
    member_id: str
    station_id: str | None
    erased_at: datetime
    erased_by: str
    orders: list[ErasureOrderPublic]
    complete: bool = Field(description="Every node has confirmed its deletion.")


class TemplateDeletionPublic(BaseModel):
    """One node's order to delete a member's template after a withdrawal, and whether the
    node has confirmed it."""

    id: int
    member_id: str
    node_id: str
    station_id: str | None = Field(description="The station of the consent withdrawn.")
    reason: DeletionReason
    ordered_at: datetime
    confirmed_at: datetime | None


class MemberExport(BaseModel):
    """Everything cloud-duty holds about one member (PIPL art. 45)."""

    exported_at: datetime
    member: MemberPublic
    consents: list[ConsentPublic]
    revocation: dict[str, Any] | None
    visits: list[VisitPublic]
    cards: list[CardPublic] = Field(default_factory=list, description="Printed entry cards.")
    audit: list[AuditPublic] = Field(description="Who did or read what about this member.")
    template_deletions: list[TemplateDeletionPublic] = Field(
        default_factory=list,
        description="Nodes told to delete the face template after a withdrawal, and "
        "whether each has confirmed it.",
    )
    note: str = (
        "Face templates are never held by cloud-duty: they stay, encrypted, on the nodes "
        "where you enrolled. Phone numbers are kept only as a keyed hash."
    )
