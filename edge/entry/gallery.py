"""The node's face gallery: templates encrypted at rest, kept only with recorded consent.

Templates never leave the node unless the member gave the separate sharing consent; then
they travel sealed with a key the two stations share, never in clear.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cryptography.fernet import Fernet, InvalidToken

from edge.errors import GalleryError
from vision.faces import DEFAULT_THRESHOLD, Descriptor, Gallery, Match

log = logging.getLogger(__name__)

MAX_TEMPLATES = 5


@dataclass
class _Entry:
    consent_version: str
    shareable: bool
    templates: list[list[float]] = field(default_factory=list)


def new_gallery_key() -> bytes:
    """Return a fresh key for a gallery file (keep it outside the gallery's folder)."""
    return Fernet.generate_key()


class FaceGallery:
    """Encrypted, consent-bound face templates on one node."""

    def __init__(self, path: Path, key: bytes, threshold: float = DEFAULT_THRESHOLD) -> None:
        """Open the gallery file (or start an empty one) with its Fernet key."""
        self._path = path
        self._fernet = Fernet(key)
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = self._load()
        self._index = Gallery(threshold)
        for member_id, entry in self._entries.items():
            for template in entry.templates:
                self._index.enrol(member_id, np.asarray(template))

    def enrol(
        self,
        member_id: str,
        descriptors: list[Descriptor],
        consent_version: str,
        shareable: bool = False,
    ) -> None:
        """Store a member's templates under the consent they agreed to."""
        if not consent_version:
            raise GalleryError("enrolment needs the version of the consent the member agreed to")
        if not 1 <= len(descriptors) <= MAX_TEMPLATES:
            raise GalleryError(f"enrol with 1 to {MAX_TEMPLATES} face descriptors")
        with self._lock:
            entry = _Entry(consent_version, shareable, [d.tolist() for d in descriptors])
            self._entries[member_id] = entry
            self._index.remove(member_id)
            for descriptor in descriptors:
                self._index.enrol(member_id, descriptor)
            self._save()

    def withdraw(self, member_ids: set[str]) -> list[str]:
        """Delete every template of these members, from memory and disk; return who went."""
        with self._lock:
            gone = sorted(m for m in member_ids if m in self._entries)
            for member_id in gone:
                del self._entries[member_id]
                self._index.remove(member_id)
            if gone:
                self._save()
        for member_id in gone:
            log.info("face template of member %s deleted (consent withdrawn)", member_id)
        return gone

    def members(self) -> list[str]:
        """Return the enrolled member ids."""
        with self._lock:
            return sorted(self._entries)

    def match(self, descriptor: Descriptor) -> Match | None:
        """Return the nearest enrolled member within the threshold."""
        with self._lock:
            return self._index.match(descriptor)

    def export_shared(self, member_id: str, transfer_key: bytes) -> bytes:
        """Seal a member's templates for another station; only with sharing consent."""
        with self._lock:
            entry = self._entries.get(member_id)
            if entry is None or not entry.shareable:
                raise GalleryError(f"member {member_id} has not agreed to share their face")
            body = {"member_id": member_id, "consent_version": entry.consent_version}
            body["templates"] = entry.templates  # type: ignore[assignment]
        return Fernet(transfer_key).encrypt(json.dumps(body).encode())

    def import_shared(self, sealed: bytes, transfer_key: bytes) -> str:
        """Enrol templates another station sealed for this one; return the member id."""
        try:
            body = json.loads(Fernet(transfer_key).decrypt(sealed))
            descriptors = [np.asarray(t, dtype=np.float64) for t in body["templates"]]
            member_id, version = str(body["member_id"]), str(body["consent_version"])
        except (InvalidToken, ValueError, KeyError, TypeError) as err:
            raise GalleryError("the shared templates cannot be read") from err
        self.enrol(member_id, descriptors, version, shareable=True)
        return member_id

    def _load(self) -> dict[str, _Entry]:
        if not self._path.exists():
            return {}
        try:
            raw = json.loads(self._fernet.decrypt(self._path.read_bytes()))
            return {m: _Entry(**e) for m, e in raw.items()}
        except (InvalidToken, ValueError, TypeError) as err:
            raise GalleryError(f"gallery {self._path} cannot be decrypted with this key") from err

    def _save(self) -> None:
        raw = {m: e.__dict__ for m, e in self._entries.items()}
        sealed = self._fernet.encrypt(json.dumps(raw).encode())
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_bytes(sealed)
        os.replace(tmp, self._path)
