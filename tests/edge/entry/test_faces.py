"""Faces on real photos: enrol, match, refuse, liveness, encrypted gallery, withdrawal,
erasure end to end.

What the shared media allows: zidane.jpg and bus.jpg show four different people, each
once. No person appears in two photographs, so the "second view" of the enrolled face is
the same photograph re-captured (smaller, rotated, darker, JPEG-recompressed), not a new
photograph of the person. That tests robustness to capture changes, not true
re-identification across days, poses and lighting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import LargeBinary, create_engine, inspect, text

from edge.entry.controller import EntryConfig, EntryController
from edge.entry.enrolment import enrol_face, measure
from edge.entry.faces import REFUSED, FaceGate
from edge.entry.gallery import FaceGallery, new_gallery_key
from edge.entry.store import EntryStore
from edge.entry.sync import sync_entry
from edge.errors import EnrolmentError, GalleryError
from station.contracts import Message
from tests.edge.entry.station import decode_image, load_image
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer
from vision.challenge import PROMPTS
from vision.faces import BlinkLiveness, Descriptor, FaceBox, FaceEngine, FaceModelPaths
from vision.qr import Frame

pytestmark = pytest.mark.integration

KEY = "96cpxMKcNebWyUN_0H92R_r_GZ8GMVGzitsNWBtfN7I"


@pytest.fixture(scope="module")
def engine(models_dir: Path) -> FaceEngine:
    return FaceEngine(
        FaceModelPaths.standard(models_dir / "face" / "face_detection_yunet_2023mar.onnx")
    )


@pytest.fixture(scope="module")
def zidane(media_dir: Path) -> Frame:
    return load_image(media_dir / "people" / "zidane.jpg")


def _face_near(engine: FaceEngine, frame: Frame, x: float) -> FaceBox:
    return min(engine.detect(frame), key=lambda b: abs(b.x - x))


def recapture(frame: Frame) -> Frame:
    """The same photo taken again: 70 % size, 6 degrees turned, darker, JPEG quality 40."""
    small = cv2.resize(frame, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 6, 1.0)
    turned = cv2.warpAffine(small, turn, (w, h), borderMode=cv2.BORDER_REFLECT)
    darker = cv2.convertScaleAbs(turned, alpha=0.75, beta=-10)
    ok, jpeg = cv2.imencode(".jpg", darker, [cv2.IMWRITE_JPEG_QUALITY, 40])
    assert ok
    return decode_image(jpeg.tobytes())


class Door:
    """Unit-level door: records unlock requests."""

    def __init__(self) -> None:
        self.unlocks: list[str] = []

    def request_unlock(self, reason: str) -> None:
        self.unlocks.append(reason)

    def stands_open(self) -> bool:
        return False


class Sink:
    """Unit-level outbox: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[Message | bytes] = []

    def send(self, topic: str, message: Message | bytes, retain: bool = False) -> int:
        self.sent.append(message)
        return len(self.sent)


def test_enrolled_face_is_matched_again_and_other_people_are_refused(
    engine: FaceEngine, zidane: Frame, media_dir: Path, tmp_path: Path
) -> None:
    gallery = FaceGallery(tmp_path / "gallery.bin", new_gallery_key())
    face_a = _face_near(engine, zidane, 917)
    gallery.enrol("m-a", [engine.describe(zidane, face_a)], "v1")

    again = recapture(zidane)
    match = gallery.match(engine.describe(again, _face_near(engine, again, 917 * 0.7)))
    assert match is not None
    assert match.member_id == "m-a"

    bus = load_image(media_dir / "people" / "bus.jpg")
    others = [(zidane, _face_near(engine, zidane, 554))] + [(bus, b) for b in engine.detect(bus)]
    assert len(others) == 3
    for frame, box in others:
        assert gallery.match(engine.describe(frame, box)) is None


class Screen:
    """Unit-level door screen: records what it showed."""

    def __init__(self) -> None:
        self.shown: list[str] = []

    def show(self, text: str) -> None:
        self.shown.append(text)


def test_a_held_up_photo_never_opens_the_door(
    engine: FaceEngine, zidane: Frame, tmp_path: Path
) -> None:
    gallery = FaceGallery(tmp_path / "gallery.bin", new_gallery_key())
    gallery.enrol("m-a", [engine.describe(zidane, _face_near(engine, zidane, 917))], "v1")
    config = EntryConfig(station_id="st-1", public_key=KEY, state_path=tmp_path / "e.sqlite")
    store = EntryStore(config.state_path)
    door, sink, screen = Door(), Sink(), Screen()
    frame_times = iter(
        datetime(2026, 11, 23, 12, 0, tzinfo=UTC) + timedelta(seconds=i / 2) for i in range(100)
    )
    now = [next(frame_times)]
    controller = EntryController("node-1", config, store, door, sink, lambda: now[0])
    gate = FaceGate(engine, gallery, controller, screen, lambda: now[0], frames=3)
    # The member's photo, moved a little in each frame as a hand holds it up, for 7 s.
    decisions = []
    for shift in range(0, 70, 5):
        decisions.append(gate.on_frame(np.roll(zidane, shift, axis=1)))
        now[0] = next(frame_times)

    made = [d for d in decisions if d is not None]
    assert len(made) == 1
    assert not made[0].allowed
    assert made[0].reason.startswith("challenge ")
    assert made[0].reason.endswith(": timeout")
    assert screen.shown[0] in PROMPTS.values()
    assert screen.shown[-1] == REFUSED
    assert door.unlocks == []
    assert sink.sent == []
    assert store.audit_log()[-1].reason == made[0].reason


def test_blink_check_on_real_eyes_and_its_sequence(engine: FaceEngine, zidane: Frame) -> None:
    open_eyes = engine.eyes(zidane, _face_near(engine, zidane, 917))
    assert open_eyes >= 0.25  # eyes open in the photo read as open
    blink = BlinkLiveness()
    assert not any(blink.add(v) for v in (open_eyes, open_eyes, 0.3))
    assert not blink.add(0.12)  # closed
    assert blink.add(0.3)  # open again: a blink


def test_gallery_is_encrypted_and_shares_only_with_consent(
    engine: FaceEngine, zidane: Frame, tmp_path: Path
) -> None:
    key = new_gallery_key()
    path = tmp_path / "gallery.bin"
    descriptor = engine.describe(zidane, _face_near(engine, zidane, 917))
    gallery = FaceGallery(path, key)
    gallery.enrol("m-private", [descriptor], "v1")
    gallery.enrol("m-shared", [descriptor], "v1", shareable=True)

    raw = path.read_bytes()
    assert b"m-private" not in raw
    assert f"{descriptor[0]:.6f}"[:7].encode() not in raw
    with pytest.raises(GalleryError):
        FaceGallery(path, new_gallery_key())
    assert FaceGallery(path, key).members() == ["m-private", "m-shared"]

    transfer = new_gallery_key()
    with pytest.raises(GalleryError):
        gallery.export_shared("m-private", transfer)
    sealed = gallery.export_shared("m-shared", transfer)
    assert b"m-shared" not in sealed
    other = FaceGallery(tmp_path / "other.bin", new_gallery_key())
    with pytest.raises(GalleryError):
        other.import_shared(sealed, new_gallery_key())
    assert other.import_shared(sealed, transfer) == "m-shared"
    match = other.match(descriptor)
    assert match is not None
    assert match.member_id == "m-shared"


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str) -> Iterator[DutyServer]:
    server = DutyServer(pg_url, broker.port).start()
    server.register("st-1", "node-1")
    yield server
    server.stop()


def test_withdrawn_consent_deletes_the_template_and_the_cloud_holds_no_face_data(
    duty: DutyServer, engine: FaceEngine, zidane: Frame, tmp_path: Path
) -> None:
    key = new_gallery_key()
    gallery = FaceGallery(tmp_path / "gallery.bin", key)
    store = EntryStore(tmp_path / "entry.sqlite")
    with duty.client() as http:
        member = http.post("/api/v1/members", json={"occupation": "rider"}).json()["id"]
        consent = {"kind": "face", "text_version": "v1", "station_id": "st-1"}
        smuggled = http.post(
            f"/api/v1/members/{member}/consents", json={**consent, "template": [0.1] * 128}
        )
        assert smuggled.status_code == 422
        with pytest.raises(EnrolmentError):
            measure(engine, [zidane])  # two faces in the frame: which one?
        face = _face_near(engine, zidane, 917)
        crop = zidane[int(face.y) - 60 : int(face.y + face.h) + 60, int(face.x) - 60 :]
        descriptors = measure(engine, [np.ascontiguousarray(crop)])
        with pytest.raises(EnrolmentError):
            enrol_face(http, gallery, descriptors, "m-nobody", "st-1", "v1")
        assert gallery.members() == []
        [consent_id] = enrol_face(http, gallery, descriptors, member, "st-1", "v1")
        public_key = http.get("/api/v1/entry/sync").json()["public_key"]
        assert sync_entry(http, store, gallery, public_key).templates_deleted == []
        assert gallery.members() == [member]

        withdrawn = http.post(f"/api/v1/members/{member}/consents/{consent_id}/withdraw")
        assert withdrawn.status_code == 200
        result = sync_entry(http, store, gallery, public_key)

        assert result.templates_deleted == [member]
        assert gallery.members() == []
        assert FaceGallery(tmp_path / "gallery.bin", key).members() == []  # gone from disk too
        assert len(http.get(f"/api/v1/members/{member}/consents").json()) == 1

    database = create_engine(duty.settings.database_url)
    try:
        schema = inspect(database)
        for table in schema.get_table_names():
            for column in schema.get_columns(table):
                name = column["name"].lower()
                assert not any(w in name for w in ("face", "template", "descriptor", "embedding"))
                # Binary columns: the scheduler's pickled job state, event snapshots the node
                # blurred (faces blurred before they leave it) and model weights in the registry;
                # no face data fits elsewhere.
                allowed = {("snapshot", "jpeg"), ("model_weights", "data")}
                if (table, name) not in allowed and table != "apscheduler_jobs":
                    assert not isinstance(column["type"], LargeBinary), (table, name)
    finally:
        database.dispose()
    store.close()


def _enrolment_descriptors(engine: FaceEngine, zidane: Frame) -> list[Descriptor]:
    face = _face_near(engine, zidane, 917)
    crop = zidane[int(face.y) - 60 : int(face.y + face.h) + 60, int(face.x) - 60 :]
    return measure(engine, [np.ascontiguousarray(crop)])


def test_erasure_deletes_the_template_on_the_node_which_confirms_it_back(
    duty: DutyServer, engine: FaceEngine, zidane: Frame, tmp_path: Path
) -> None:
    duty.register("st-2", "node-2")  # a station where the member never enrolled
    gallery = FaceGallery(tmp_path / "gallery.bin", new_gallery_key())
    store = EntryStore(tmp_path / "entry.sqlite")
    with duty.client() as admin, duty.node_client("node-1") as node:
        body = {"occupation": "rider", "station_id": "st-1"}
        member = admin.post("/api/v1/members", json=body).json()["id"]
        # The node records the consent given on its screen, then keeps the template.
        enrol_face(node, gallery, _enrolment_descriptors(engine, zidane), member, "st-1", "v1")
        keys = node.get("/api/v1/entry/sync").json()["public_keys"]
        assert sync_entry(node, store, gallery, keys).templates_deleted == []
        assert gallery.members() == [member]
        exported = admin.get(f"/api/v1/members/{member}/export").json()
        assert [c["text_sha256"] for c in exported["consents"]] == [
            admin.get("/api/v1/consent-texts/face/v1").json()["sha256"]
        ]

        erased = admin.delete(f"/api/v1/members/{member}")
        assert erased.status_code == 200
        assert [o["node_id"] for o in erased.json()["orders"]] == ["node-1"]
        assert erased.json()["complete"] is False

        result = sync_entry(node, store, gallery, keys)
        assert result.templates_deleted == [member]
        assert result.erasures_confirmed == 1
        assert gallery.members() == []
        assert store.is_revoked(member)  # codes issued before the erasure open nothing
        [shown] = [e for e in admin.get("/api/v1/erasures").json() if e["member_id"] == member]
        assert shown["complete"] is True
        assert shown["orders"][0]["confirmed_at"] is not None
        assert sync_entry(node, store, gallery, keys).erasures_confirmed == 0
        assert admin.get(f"/api/v1/members/{member}/export").status_code == 404
        assert admin.get(f"/api/v1/members/{member}").status_code == 404
    database = create_engine(duty.settings.database_url)
    try:
        with database.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM consent")).scalar_one()
            counted = conn.execute(text("SELECT kind, granted FROM consent_tally")).all()
    finally:
        database.dispose()
    assert left == 0
    assert [tuple(row) for row in counted] == [("face", 1)]
    store.close()
