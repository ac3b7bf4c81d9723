"""Face enrolment at the door, as a kiosk: the member shows their enrolment code (a signed
`UWE1` code from their phone's QR page: it proves who they are, is spent, and opens no door;
a refusal goes to the door log and up to cloud-duty's audit log), the door screen shows the
face consent text (zh-CN first), and once the member agrees the face is measured from
several frames and the template kept here, after cloud-duty has recorded the consent with
the version and SHA-256 of the text shown. edge/entry/door_kiosk.py drives it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.entry.controller import Clock
from edge.entry.enrolment import enrol_face, measure
from edge.entry.faces import MIN_FACE_PX, DoorScreen
from edge.entry.gallery import FaceGallery
from edge.entry.store import AuditEntry, EntryStore
from edge.errors import EnrolmentError
from station.tokens import EnrolmentVerifier, TokenRefusedError
from vision.faces import FaceEngine
from vision.qr import Frame

log = logging.getLogger(__name__)

ENROLLED: Final = "人脸登记完成，下次可刷脸进门"
DECLINED: Final = "已取消人脸登记，您仍可扫码或刷卡进门"
CODE_REFUSED: Final = "登记码无效、已过期或已用过，请在手机上重新获取"
UNAVAILABLE: Final = "暂时无法登记人脸，请稍后再试；您仍可扫码或刷卡进门"


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
        verifier: EnrolmentVerifier,
        store: EntryStore,
        engine: FaceEngine,
        gallery: FaceGallery,
        screen: DoorScreen,
        clock: Clock,
        station_id: str,
        record: Callable[[AuditEntry], None] | None = None,
    ) -> None:
        """Wire the kiosk to cloud-duty (as this node), the node's state and the screen;
        refusals go to `record` (the controller's door log, sent up) or else the store."""
        self._client = client
        self._verifier = verifier
        self._store = store
        self._engine = engine
        self._gallery = gallery
        self._screen = screen
        self._clock = clock
        self._station_id = station_id
        self._record = record or store.audit

    def begin(self, qr_text: str) -> PendingEnrolment:
        """Check the member's enrolment code (spent here), fetch the latest face text and
        show it."""
        now = self._clock()
        try:
            claims = self._verifier.verify(qr_text, now)
        except TokenRefusedError as err:
            self._refuse(None, f"enrolment code {err.reason.value}")
            raise EnrolmentError(f"the code does not prove who you are: {err}") from err
        if self._store.is_revoked(claims.member_id):
            self._refuse(claims.member_id, "enrolment code revoked")
            raise EnrolmentError("this member's codes are revoked")
        if not self._store.use_nonce(claims.nonce, claims.expires_at, now):
            self._refuse(claims.member_id, "enrolment code replayed")
            raise EnrolmentError("this code was used before; show a fresh one")
        try:
            text = self._latest_face_text()
        except EnrolmentError:
            self._screen.show(UNAVAILABLE)
            raise
        self._screen.show(text.text)
        return PendingEnrolment(claims.member_id, text)

    def usable(self, frame: Frame) -> bool:
        """Whether a frame can be enrolled from: exactly one face, near enough to measure."""
        faces = self._engine.detect(frame)
        return len(faces) == 1 and min(faces[0].w, faces[0].h) >= MIN_FACE_PX

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
        self._record(AuditEntry(self._clock(), "qr", member_id, "refused", reason))
        self._screen.show(CODE_REFUSED)
