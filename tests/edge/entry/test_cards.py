"""Printed cards at the door (unit level: fixed clock, fakes for the door and the outbox):
good until revoked, limited per door per minute, and the count survives a restart."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.entry.controller import EntryConfig, EntryController
from edge.entry.store import EntryStore
from station.contracts import VisitMethod
from station.tokens import (
    CardClaims,
    CardVerifier,
    RefusalReason,
    TokenRefusedError,
    TokenSigner,
    issue_card,
    new_private_key,
    public_key_of,
)
from tests.edge.entry.test_entry_controller import Clock, Door, Sink

PRIVATE = new_private_key()
ISSUED = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def _card(card_id: str = "c-1", member: str = "m-1", station: str = "st-1") -> str:
    return issue_card(TokenSigner(PRIVATE), CardClaims(card_id, member, station, ISSUED))


def _controller(tmp_path: Path, door: str = "door-1") -> tuple[EntryController, Door, Clock]:
    clock, opener = Clock(), Door()
    config = EntryConfig(
        station_id="st-1",
        public_key=public_key_of(PRIVATE),
        state_path=tmp_path / "entry.sqlite",
        card_uses_per_minute=2,
        repeat_ignore_s=3,
    )
    store = EntryStore(config.state_path)
    return EntryController("node-1", config, store, opener, Sink(), clock, door), opener, clock


def test_a_card_issued_months_ago_still_opens_and_is_a_card_visit(tmp_path: Path) -> None:
    controller, door, _clock = _controller(tmp_path)
    decision = controller.present_qr(_card())
    assert decision is not None
    assert decision.allowed
    assert decision.method is VisitMethod.CARD
    assert decision.member_id == "m-1"
    assert door.unlocks == ["card entry"]
    # The same card signed again from the same claims is the same card: a reprint.
    assert _card() == _card()


def test_uses_beyond_the_limit_per_door_and_minute_are_refused_and_persist(
    tmp_path: Path,
) -> None:
    controller, door, clock = _controller(tmp_path)
    clock.now = clock.now.replace(second=0)
    outcomes = []
    for _ in range(4):  # each showing 4 s apart: separate showings, not repeated frames
        decision = controller.present_qr(_card())
        assert decision is not None
        outcomes.append((decision.allowed, decision.reason))
        clock.move(4)
    assert [allowed for allowed, _ in outcomes] == [True, True, False, False]
    assert outcomes[2][1] == "replayed: over 2 uses a minute"
    assert len(door.unlocks) == 2
    refused = [e for e in controller.store.audit_log() if e.outcome == "refused"]
    assert [(e.method, e.member_id) for e in refused] == [("card", "m-1")] * 2

    # A restart keeps this minute's count: the node refuses the card still.
    controller.store.close()
    again, _door, again_clock = _controller(tmp_path)
    again_clock.now = clock.now
    refused_again = again.present_qr(_card())
    assert refused_again is not None
    assert not refused_again.allowed
    # Another door of the station counts on its own; the next minute starts afresh.
    other, _door, other_clock = _controller(tmp_path, door="door-2")
    other_clock.now = clock.now
    assert other.present_qr(_card()).allowed  # type: ignore[union-attr]
    again_clock.now = clock.now.replace(second=0) + timedelta(minutes=1)
    assert again.present_qr(_card()).allowed  # type: ignore[union-attr]


def test_forged_tampered_and_other_stations_cards_are_refused(tmp_path: Path) -> None:
    controller, door, clock = _controller(tmp_path)
    stranger = issue_card(TokenSigner(new_private_key()), CardClaims("c-1", "m-1", "st-1", ISSUED))
    prefix, body, signature = _card().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["m"] = "m-2"  # someone else's card with this card's signature
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = f"{prefix}.{forged_body}.{signature}"
    reasons = []
    for card in (stranger, tampered, _card(station="st-2"), "UWC1.e30.AAAA"):
        decision = controller.present_qr(card)
        assert decision is not None
        assert not decision.allowed
        reasons.append(decision.reason)
        clock.move(4)
    assert reasons == ["forged", "forged", "wrong_station", "malformed"]
    assert door.unlocks == []


def test_a_revoked_card_or_member_is_refused_and_other_cards_still_open(tmp_path: Path) -> None:
    controller, door, clock = _controller(tmp_path)
    controller.store.set_revoked_cards({"c-lost"})
    controller.store.set_revoked({"m-gone"})
    lost = controller.present_qr(_card("c-lost"))
    clock.move(4)
    gone = controller.present_qr(_card("c-2", member="m-gone"))
    clock.move(4)
    kept = controller.present_qr(_card("c-3"))
    assert lost is not None
    assert (lost.allowed, lost.reason) == (False, "revoked")
    assert gone is not None
    assert (gone.allowed, gone.reason) == (False, "revoked")
    assert kept is not None
    assert kept.allowed
    assert len(door.unlocks) == 1


def test_the_card_verifier_refuses_a_card_from_the_future_and_a_qr_token() -> None:
    verifier = CardVerifier(public_key_of(PRIVATE), "st-1")
    with pytest.raises(TokenRefusedError) as early:
        verifier.verify(_card(), ISSUED - timedelta(minutes=5))
    assert early.value.reason is RefusalReason.NOT_YET_VALID
    token, _claims = TokenSigner(PRIVATE).issue("m-1", ["st-1"], ISSUED)
    with pytest.raises(TokenRefusedError) as wrong_kind:
        verifier.verify(token, ISSUED)
    assert wrong_kind.value.reason is RefusalReason.MALFORMED
