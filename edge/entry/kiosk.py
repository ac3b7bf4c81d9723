"""Face enrolment at the door, as a kiosk: the member shows their QR code (it proves who they
are, and is spent), the door screen shows the face consent text (zh-CN first), and once the
member agrees the face is measured from several frames and the template kept here, after
cloud-duty has recorded the consent with the version and SHA-256 of the text shown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.entry.controller import Clock
from edge.entry.enrolment import enrol_face, measure
from edge.entry.faces import DoorScreen
from edge.entry.gallery import FaceGallery
from edge.entry.store import AuditEntry, EntryStore
from edge.errors import EnrolmentError
from station.tokens import TokenRefusedError, TokenVerifier
from vision.faces import FaceEngine
from vision.qr import Frame

log = logging.getLogger(__name__)

ENROLLED: Final = "人脸登记完成，下次可刷脸进门"
DECLINED: Final = "已取消人脸登记，您仍可扫码或刷卡进门"


class ConsentText(BaseModel):
    """A published consent text, as GET /api/v1/consent-texts/face/<version> gives it."""

    model_config = ConfigDict(extra="ignore")
    version: str = Field(max_length=32, description="Text version.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the text.")
    text: str = Field(max_length=20_000, description="The text, zh-CN first.")


@dataclass(frozen=True)
class PendingEnrolment:
    """A member who proved who they are and is reading the consent text."""

    member_id: str
    text: ConsentText


class EnrolmentKiosk:
    """The door's enrolment flow: begin with the member's QR, then accept or decline."""

    def __init__(
        self,
        client: httpx.Client,
        verifier: TokenVerifier,
        store: EntryStore,
        engine: FaceEngine,
        gallery: FaceGallery,
        screen: DoorScreen,
        clock: Clock,
        station_id: str,
    ) -> None:
        """Wire the kiosk to cloud-duty (as this node), the node's state and the screen."""
        self._client = client
        self._verifier = verifier
        self._store = store
        self._engine = engine
        self._gallery = gallery
        self._screen = screen
        self._clock = clock
        self._station_id = station_id

    def begin(self, qr_text: str) -> PendingEnrolment:
        """Check the member's code (spent here), fetch the latest face text and show it."""
        now = self._clock()
        try:
            claims = self._verifier.verify(qr_text, now)
        except TokenRefusedError as err:
            self._refuse(None, f"code {err.reason.value}")
            raise EnrolmentError(f"the code does not prove who you are: {err}") from err
        if self._store.is_revoked(claims.member_id):
            self._refuse(claims.member_id, "revoked")
            raise EnrolmentError("this member's codes are revoked")
        if not self._store.use_nonce(claims.nonce, claims.expires_at, now):
            self._refuse(claims.member_id, "code replayed")
            raise EnrolmentError("this code was used before; show a fresh one")
        text = self._latest_face_text()
        self._screen.show(text.text)
        return PendingEnrolment(claims.member_id, text)

    def accept(self, pending: PendingEnrolment, frames: list[Frame]) -> list[int]:
        """The member agreed: measure the frames, record the consent, keep the template."""
        descriptors = measure(self._engine, frames)
        ids = enrol_face(
            self._client,
            self._gallery,
            descriptors,
            pending.member_id,
            self._station_id,
            pending.text.version,
            text_sha256=pending.text.sha256,
        )
        self._store.audit(
            AuditEntry(self._clock(), "face", pending.member_id, "enrolled", pending.text.version)
        )
        self._screen.show(ENROLLED)
        return ids

    def decline(self, pending: PendingEnrolment) -> None:
        """The member did not agree: nothing is measured or kept."""
        log.info("member %s declined face enrolment", pending.member_id)
        self._screen.show(DECLINED)

    def _latest_face_text(self) -> ConsentText:
        try:
            listed = self._client.get("/api/v1/consent-texts")
            listed.raise_for_status()
            faces = [ConsentText.model_validate(t) for t in listed.json() if t["kind"] == "face"]
        except (httpx.HTTPError, ValidationError, KeyError, TypeError, ValueError) as err:
            raise EnrolmentError(f"cloud-duty unreachable; no consent text: {err}") from err
        if not faces:
            raise EnrolmentError("cloud-duty publishes no face consent text")
        return faces[-1]  # oldest version first: the last is the current one

    def _refuse(self, member_id: str | None, reason: str) -> None:
        self._store.audit(AuditEntry(self._clock(), "face", member_id, "refused", reason))
