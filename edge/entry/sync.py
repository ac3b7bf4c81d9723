"""Pulls cloud-duty's entry state: the verify keys, revoked members and printed cards,
withdrawn face consents and erased members; confirms back the deletions cloud-duty ordered.

Run at start and every few minutes; the node keeps working on the last copy when the cloud
is unreachable. A withdrawn face consent deletes the template here within one sync; an
erased member's template too. Each deletion cloud-duty ordered (after an erasure, or after
a face or sharing consent was withdrawn) is confirmed to it at once (if the confirmation is
lost, the next sync orders and confirms it again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.entry.gallery import FaceGallery
from edge.entry.store import EntryStore
from edge.errors import EntrySyncError

log = logging.getLogger(__name__)


class EntrySyncPayload(BaseModel):
    """cloud-duty's answer on GET /api/v1/entry/sync."""

    model_config = ConfigDict(extra="ignore")
    public_key: str = Field(max_length=64, description="Key tokens are signed with.")
    revoked: list[str] = Field(max_length=1_000_000, description="Revoked member ids.")
    face_withdrawn: list[str] = Field(
        max_length=1_000_000, description="Members whose face consent is withdrawn."
    )
    erased: list[str] = Field(
        default_factory=list, max_length=1_000_000, description="Erased members: delete."
    )
    withdrawal_orders: list[str] = Field(
        default_factory=list,
        max_length=1_000_000,
        description="Members whose template to delete after a withdrawal, and confirm.",
    )
    revoked_cards: list[str] = Field(
        default_factory=list, max_length=1_000_000, description="Revoked printed cards."
    )


@dataclass(frozen=True)
class SyncResult:
    """What one sync changed."""

    revoked: int
    templates_deleted: list[str]
    key_matches: bool
    erasures_confirmed: int = 0
    withdrawals_confirmed: int = 0


def sync_entry(
    client: httpx.Client,
    store: EntryStore,
    gallery: FaceGallery | None,
    expected_key: str | list[str],
) -> SyncResult:
    """Fetch and apply the entry state, then confirm the deletions ordered; on failure raise
    EntrySyncError (a failed fetch changes nothing)."""
    try:
        response = client.get("/api/v1/entry/sync")
        response.raise_for_status()
        payload = EntrySyncPayload.model_validate_json(response.content)
    except (httpx.HTTPError, ValidationError) as err:
        raise EntrySyncError(f"entry sync failed: {str(err)[:200]}") from err
    erased = set(payload.erased)
    # An erased member's codes stop here too, even those issued before the erasure.
    store.set_revoked(set(payload.revoked) | erased)
    store.set_revoked_cards(set(payload.revoked_cards))
    ordered = set(payload.withdrawal_orders)
    gone = set(payload.face_withdrawn) | erased | ordered
    deleted = gallery.withdraw(gone) if gallery is not None else []
    # Confirmed only once the gallery holds them no more: withdraw() has saved it to disk.
    confirmed = _confirm(client, sorted(erased), "erasure") if erased else 0
    withdrawals = _confirm(client, sorted(ordered), "withdrawal") if ordered else 0
    accepted = [expected_key] if isinstance(expected_key, str) else expected_key
    matches = payload.public_key in accepted
    if not matches:
        # A key rotation needs a deliberate config change: a node never trusts a key from the wire.
        log.warning("cloud-duty's current entry key is not one this node is configured with")
    return SyncResult(len(payload.revoked), deleted, matches, confirmed, withdrawals)


def _confirm(client: httpx.Client, member_ids: list[str], reason: str) -> int:
    """Tell cloud-duty these members' templates are gone from this node."""
    body = {"member_ids": member_ids, "reason": reason}
    try:
        response = client.post("/api/v1/entry/deletions", json=body)
        response.raise_for_status()
        return int(response.json()["confirmed"])
    except (httpx.HTTPError, ValueError, KeyError) as err:
        raise EntrySyncError(f"deletion confirmation failed: {str(err)[:200]}") from err
