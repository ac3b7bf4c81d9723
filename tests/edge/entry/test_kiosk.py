"""Face enrolment at the door kiosk against a running cloud-duty: the member's enrolment code
proves who they are (and is spent; an entry code is not one), the zh-CN consent text is
shown, the face is measured from several frames, and the consent is recorded with the
SHA-256 of the text shown (real faces)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.entry.gallery import FaceGallery, new_gallery_key
from edge.entry.kiosk import CODE_REFUSED, DECLINED, ENROLLED, EnrolmentKiosk
from edge.entry.store import EntryStore
from edge.errors import EnrolmentError
from station.contracts import utcnow
from station.tokens import EnrolmentVerifier, TokenSigner, new_private_key
from tests.edge.entry.station import load_image
from tests.edge.entry.test_faces import Screen, recapture
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer
from vision.faces import FaceEngine, FaceModelPaths
from vision.qr import Frame

pytestmark = pytest.mark.integration


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str, tmp_path: Path) -> Iterator[DutyServer]:
    server = DutyServer(pg_url, broker.port, key_file=str(tmp_path / "keys.json")).start()
    server.register("st-1", "node-1")
    yield server
    server.stop()


def _face_frames(models_dir: Path, media_dir: Path) -> tuple[FaceEngine, list[Frame]]:
    engine = FaceEngine(
        FaceModelPaths.standard(models_dir / "face" / "face_detection_yunet_2023mar.onnx")
    )
    zidane = load_image(media_dir / "people" / "zidane.jpg")
    face = min(engine.detect(zidane), key=lambda b: abs(b.x - 917))
    crop = np.ascontiguousarray(zidane[int(face.y) - 60 : int(face.y + face.h) + 60, 800:])
    return engine, [crop, recapture(crop), np.ascontiguousarray(crop[:, ::-1])]


def test_the_member_enrols_at_the_door_with_their_code_and_the_text_shown(
    duty: DutyServer, tmp_path: Path, models_dir: Path, media_dir: Path
) -> None:
    engine, frames = _face_frames(models_dir, media_dir)
    gallery = FaceGallery(tmp_path / "gallery.bin", new_gallery_key())
    store, screen = EntryStore(tmp_path / "entry.sqlite"), Screen()
    with duty.client() as admin, duty.node_client("node-1") as node:
        member = admin.post("/api/v1/members", json={"station_id": "st-1"}).json()["id"]
        other = admin.post("/api/v1/members", json={"station_id": "st-1"}).json()["id"]
        body = {"scopes": ["st-1"], "purpose": "enrol"}
        token_of = {
            m: admin.post(f"/api/v1/members/{m}/tokens", json=body).json()["token"]
            for m in (member, other)
        }
        assert token_of[member].startswith("UWE1.")
        entry_code = admin.post(f"/api/v1/members/{member}/tokens", json={"scopes": ["st-1"]})
        keys = node.get("/api/v1/entry/sync").json()["public_keys"]
        verifier = EnrolmentVerifier(keys, "st-1")
        kiosk = EnrolmentKiosk(node, verifier, store, engine, gallery, screen, utcnow, "st-1")

        pending = kiosk.begin(token_of[member])
        texts = admin.get("/api/v1/consent-texts").json()
        face_text = [t for t in texts if t["kind"] == "face"][-1]
        assert screen.shown == [face_text["text"]]
        assert pending.text.sha256 == face_text["sha256"]
        assert pending.text.text.startswith("# 人脸")  # zh-CN first
        [consent_id] = kiosk.accept(pending, frames)
        assert screen.shown[-1] == ENROLLED
        assert gallery.members() == [member]
        [recorded] = admin.get(f"/api/v1/members/{member}/consents").json()
        assert recorded["id"] == consent_id
        assert (recorded["text_version"], recorded["text_sha256"]) == (
            pending.text.version,
            pending.text.sha256,
        )

        with pytest.raises(EnrolmentError, match="used before"):
            kiosk.begin(token_of[member])  # the code is spent
        stranger = TokenSigner(new_private_key()).issue_enrolment(other, ["st-1"], utcnow())[0]
        with pytest.raises(EnrolmentError, match="does not prove"):
            kiosk.begin(stranger)
        assert screen.shown[-1] == CODE_REFUSED
        with pytest.raises(EnrolmentError, match="does not prove"):
            kiosk.begin(entry_code.json()["token"])  # an entry code asks for no enrolment
        declined = kiosk.begin(token_of[other])
        kiosk.decline(declined)
        assert screen.shown[-1] == DECLINED
        assert admin.get(f"/api/v1/members/{other}/consents").json() == []
    assert gallery.members() == [member]
    reasons = [e.reason for e in store.audit_log() if e.outcome == "refused"]
    assert reasons == [
        "enrolment code replayed",
        "enrolment code forged",
        "enrolment code malformed",
    ]
    store.close()
