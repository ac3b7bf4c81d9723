"""Face withdrawal end to end with real nodes: withdrawing at one station deletes that
station's template, withdrawing sharing deletes the shared copy elsewhere, and each node
confirms its own deletion in its next sync; cloud-duty shows the confirmations. A node
cannot confirm another node's deletion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from edge.entry.enrolment import enrol_face, measure
from edge.entry.gallery import FaceGallery, new_gallery_key
from edge.entry.store import EntryStore
from edge.entry.sync import SyncResult, sync_entry
from tests.edge.entry.station import load_image
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer
from vision.faces import Descriptor, FaceEngine, FaceModelPaths

pytestmark = pytest.mark.integration


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str) -> Iterator[DutyServer]:
    server = DutyServer(pg_url, broker.port).start()
    server.register("st-1", "node-1")
    server.register("st-2", "node-2")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def descriptors(models_dir: Path, media_dir: Path) -> list[Descriptor]:
    engine = FaceEngine(
        FaceModelPaths.standard(models_dir / "face" / "face_detection_yunet_2023mar.onnx")
    )
    zidane = load_image(media_dir / "people" / "zidane.jpg")
    face = min(engine.detect(zidane), key=lambda b: abs(b.x - 917))
    crop = zidane[int(face.y) - 60 : int(face.y + face.h) + 60, int(face.x) - 60 :]
    return measure(engine, [np.ascontiguousarray(crop)])


class Node:
    """One node's own parts: its credential, encrypted gallery and entry store."""

    def __init__(self, http: httpx.Client, folder: Path) -> None:
        folder.mkdir()
        self.http = http
        self.gallery = FaceGallery(folder / "gallery.bin", new_gallery_key())
        self.store = EntryStore(folder / "entry.sqlite")

    def sync(self) -> SyncResult:
        keys = self.http.get("/api/v1/entry/sync").json()["public_keys"]
        return sync_entry(self.http, self.store, self.gallery, keys)


def _deletions(admin: httpx.Client, member: str) -> dict[str, str | None]:
    """Each node's deletion order about the member, as the member's export shows it."""
    exported = admin.get(f"/api/v1/members/{member}/export")
    assert exported.status_code == 200, exported.text
    orders = exported.json()["template_deletions"]
    assert all(o["reason"] == "withdrawal" for o in orders)
    return {o["node_id"]: o["confirmed_at"] for o in orders}


def _withdraw(admin: httpx.Client, member: str, kind: str, station: str) -> None:
    [consent] = [
        c
        for c in admin.get(f"/api/v1/members/{member}/consents").json()
        if c["kind"] == kind and c["station_id"] == station
    ]
    url = f"/api/v1/members/{member}/consents/{consent['id']}/withdraw"
    assert admin.post(url).status_code == 200


def test_withdrawal_deletes_per_station_and_each_node_confirms_its_own(
    duty: DutyServer, descriptors: list[Descriptor], tmp_path: Path
) -> None:
    with (
        duty.client() as admin,
        duty.node_client("node-1") as http_1,
        duty.node_client("node-2") as http_2,
    ):
        one, two = Node(http_1, tmp_path / "node-1"), Node(http_2, tmp_path / "node-2")
        body = {"occupation": "rider", "station_id": "st-1"}
        both = admin.post("/api/v1/members", json=body).json()["id"]
        sharer = admin.post("/api/v1/members", json=body).json()["id"]
        # `both` enrolled at each station; `sharer` at st-1 only, sharing with st-2.
        enrol_face(http_1, one.gallery, descriptors, both, "st-1", "v1")
        enrol_face(http_2, two.gallery, descriptors, both, "st-2", "v1")
        enrol_face(http_1, one.gallery, descriptors, sharer, "st-1", "v1", share=True)
        transfer = new_gallery_key()
        two.gallery.import_shared(one.gallery.export_shared(sharer, transfer), transfer)
        assert one.sync().templates_deleted == two.sync().templates_deleted == []

        _withdraw(admin, both, "face", "st-1")
        assert _deletions(admin, both) == {"node-1": None}  # st-2's consent stands
        # node-2 holds no order about `both`: it cannot confirm node-1's for it.
        refused = http_2.post(
            "/api/v1/entry/deletions", json={"member_ids": [both], "reason": "withdrawal"}
        )
        assert refused.status_code == 200
        assert refused.json()["confirmed"] == 0
        naming = {"member_ids": [both], "reason": "withdrawal", "node_id": "node-1"}
        assert http_2.post("/api/v1/entry/deletions", json=naming).status_code == 422
        assert _deletions(admin, both) == {"node-1": None}

        first = one.sync()
        assert first.templates_deleted == [both]
        assert first.withdrawals_confirmed == 1
        assert one.gallery.members() == [sharer]
        assert _deletions(admin, both)["node-1"] is not None
        assert two.sync().templates_deleted == []  # still consented at st-2: kept
        assert two.gallery.members() == sorted([both, sharer])
        assert one.sync().withdrawals_confirmed == 0  # confirmed once, not again

        _withdraw(admin, sharer, "face_sharing", "st-1")
        assert _deletions(admin, sharer) == {"node-2": None}  # st-1's own copy stays
        assert one.sync().templates_deleted == []
        second = two.sync()
        assert second.templates_deleted == [sharer]
        assert second.withdrawals_confirmed == 1
        assert two.gallery.members() == [both]
        assert one.gallery.members() == [sharer]
        assert _deletions(admin, sharer)["node-2"] is not None

        listed = admin.get("/api/v1/withdrawals").json()
        shown = {(o["member_id"], o["node_id"]): o for o in listed}
        assert set(shown) == {(both, "node-1"), (sharer, "node-2")}
        assert all(o["confirmed_at"] is not None for o in listed)
        assert shown[(sharer, "node-2")]["station_id"] == "st-1"  # the consent's station
    one.store.close()
    two.store.close()
