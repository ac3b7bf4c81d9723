"""Printed cards against a running cloud-duty (PostgreSQL) and a node's entry controller:
issued by the station's staff only, printed as a PNG whose QR code opens the door, refused
when forged, when revoked (the revocation reaches the node by sync), and when replayed
beyond its uses per door per minute; an erased member's cards are revoked with them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from edge.entry.controller import EntryConfig, EntryController
from edge.entry.store import EntryStore
from edge.entry.sync import sync_entry
from station.contracts import utcnow
from station.tokens import CardClaims, TokenSigner, issue_card, new_private_key
from tests.edge.entry.station import decode_image
from tests.edge.entry.test_entry_controller import Clock, Door, Sink
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer
from vision.qr import QrReader

pytestmark = pytest.mark.integration

PASSWORD = "a-long-password-123"


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str, tmp_path: Path) -> Iterator[DutyServer]:
    server = DutyServer(pg_url, broker.port, key_file=str(tmp_path / "keys.json")).start()
    server.register("st-1", "node-1")
    server.register("st-2", "node-2")
    with server.client() as http:
        body = {"username": "wang", "password": PASSWORD, "role": "manager"}
        http.post("/api/v1/users", json={**body, "station_ids": ["st-1"]}).raise_for_status()
    yield server
    server.stop()


def _manager(duty: DutyServer) -> httpx.Client:
    with httpx.Client(base_url=duty.url, timeout=10) as http:
        login = http.post("/api/v1/auth/login", json={"username": "wang", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return httpx.Client(base_url=duty.url, headers=headers, timeout=10)


def _printed_token(manager: httpx.Client, member: str, card_id: str) -> str:
    """Print the card and read its QR code back from the image, as the door camera would."""
    printed = manager.get(f"/api/v1/members/{member}/cards/{card_id}/card.png")
    assert printed.status_code == 200
    assert printed.headers["content-type"] == "image/png"
    image = decode_image(printed.content)
    assert image.shape[:2] == (638, 1011)
    text = QrReader().read(image)
    assert text is not None
    assert text.startswith("UWC1.")
    return text


def _node(tmp_path: Path, public_key: str) -> tuple[EntryController, Door, Clock]:
    clock, door = Clock(), Door()
    config = EntryConfig(
        station_id="st-1",
        public_key=public_key,
        state_path=tmp_path / "node-entry.sqlite",
        card_uses_per_minute=2,
    )
    store = EntryStore(config.state_path)
    controller = EntryController("node-1", config, store, door, Sink(), clock, "door-1")
    # The node's clock at the start of the minute after the card was issued.
    clock.now = (utcnow() + timedelta(minutes=1)).replace(second=0, microsecond=0)
    return controller, door, clock


def test_cards_issue_print_open_and_resist_forgery_revocation_and_replay(
    duty: DutyServer, tmp_path: Path
) -> None:
    with duty.client() as admin:
        mine = admin.post("/api/v1/members", json={"station_id": "st-1"}).json()["id"]
        theirs = admin.post("/api/v1/members", json={"station_id": "st-2"}).json()["id"]
    with _manager(duty) as manager:
        issued = manager.post(f"/api/v1/members/{mine}/cards", json={"station_id": "st-1"})
        assert issued.status_code == 201, issued.text
        card = issued.json()
        assert "token" not in card
        assert card["revoked_at"] is None
        # A manager issues cards only at their own stations, to their own members.
        other_station = manager.post(f"/api/v1/members/{mine}/cards", json={"station_id": "st-2"})
        assert other_station.status_code == 403
        other_member = manager.post(f"/api/v1/members/{theirs}/cards", json={"station_id": "st-1"})
        assert other_member.status_code == 403
        token = _printed_token(manager, mine, card["id"])

    node_http = duty.node_client("node-1")
    public_key = node_http.get("/api/v1/entry/sync").json()["public_key"]
    controller, door, clock = _node(tmp_path, public_key)
    sync_entry(node_http, controller.store, None, public_key)
    stranger = issue_card(
        TokenSigner(new_private_key()), CardClaims(card["id"], mine, "st-1", clock.now)
    )
    forged = controller.present_qr(stranger)
    assert forged is not None
    assert (forged.allowed, forged.reason) == (False, "forged")
    shown = []
    for _ in range(3):  # the third use in the same minute is one too many
        clock.move(4)
        shown.append(controller.present_qr(token))
    assert [(d.allowed, d.reason) for d in shown if d is not None] == [
        (True, "ok"),
        (True, "ok"),
        (False, "replayed: over 2 uses a minute"),
    ]
    assert len(door.unlocks) == 2

    with _manager(duty) as manager:
        revoked = manager.post(
            f"/api/v1/members/{mine}/cards/{card['id']}/revoke", json={"reason": "遗失"}
        )
        assert revoked.status_code == 200
        assert revoked.json()["revoked_reason"] == "遗失"
        reprint = manager.get(f"/api/v1/members/{mine}/cards/{card['id']}/card.png")
        assert reprint.status_code == 409
        spare = manager.post(f"/api/v1/members/{mine}/cards", json={"station_id": "st-1"}).json()
        spare_token = _printed_token(manager, mine, spare["id"])
    clock.move(60)  # a fresh minute: only the revocation can refuse it now
    before_sync = controller.present_qr(token)
    assert before_sync is not None
    assert before_sync.allowed
    sync_entry(node_http, controller.store, None, public_key)
    clock.move(4)
    after_sync = controller.present_qr(token)
    assert after_sync is not None
    assert (after_sync.allowed, after_sync.reason) == (False, "revoked")
    clock.move(4)
    assert controller.present_qr(spare_token).allowed  # type: ignore[union-attr]

    with duty.client() as admin:
        exported = admin.get(f"/api/v1/members/{mine}/export").json()
        assert {c["id"] for c in exported["cards"]} == {card["id"], spare["id"]}
        assert admin.delete(f"/api/v1/members/{mine}").status_code in (200, 204)
        audit = admin.get("/api/v1/audit", params={"limit": 500}).json()["items"]
    sync = node_http.get("/api/v1/entry/sync").json()
    assert {card["id"], spare["id"]} <= set(sync["revoked_cards"])
    actions = [(a["action"], a["outcome"]) for a in audit]
    for action in ("card.issue", "card.print", "card.revoke"):
        assert (action, "ok") in actions
    assert ("card.issue", "denied") in actions
    node_http.close()
