"""Pulls cloud-duty's entry state: the verify key, revoked members, withdrawn face consents.

Run at start and every few minutes; the node keeps working on the last copy when the cloud
is unreachable. A withdrawn face consent deletes the template here within one sync.
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


@dataclass(frozen=True)
class SyncResult:
    """What one sync changed."""

    revoked: int
    templates_deleted: list[str]
    key_matches: bool


def sync_entry(
    client: httpx.Client,
    store: EntryStore,
    gallery: FaceGallery | None,
    expected_key: str,
) -> SyncResult:
    """Fetch and apply the entry state; on failure raise EntrySyncError, changing nothing."""
    try:
        response = client.get("/api/v1/entry/sync")
        response.raise_for_status()
        payload = EntrySyncPayload.model_validate_json(response.content)
    except (httpx.HTTPError, ValidationError) as err:
        raise EntrySyncError(f"entry sync failed: {str(err)[:200]}") from err
    store.set_revoked(set(payload.revoked))
    deleted = gallery.withdraw(set(payload.face_withdrawn)) if gallery is not None else []
    matches = payload.public_key == expected_key
    if not matches:
        # A key rotation needs a deliberate config change: a node never trusts a key from the wire.
        log.warning("cloud-duty's entry key differs from this node's configured key")
    return SyncResult(len(payload.revoked), deleted, matches)
