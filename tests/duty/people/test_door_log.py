"""Node door decisions reach the audit log: the node's controller writes its local log and
sends each line (DoorDecision); cloud-duty's ingest stores it once, a refusal as denied with
its reason (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from edge.entry.controller import EntryConfig, EntryController
from edge.entry.store import EntryStore
from station.contracts import DoorDecision, Message
from station.duty.fleet.ingest import Inbound, IngestPipeline
from station.duty.people.models import AuditEntry
from station.tokens import CardClaims, TokenSigner, issue_card, new_private_key, public_key_of
from tests.edge.entry.test_entry_controller import Clock, Door

PRIVATE = new_private_key()


class Uplink:
    """Unit-level uplink: what the node would queue for the cloud."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message | bytes]] = []

    def send(self, topic: str, message: Message | bytes, retain: bool = False) -> int:
        self.sent.append((topic, message))
        return len(self.sent)


def test_door_decisions_are_uplinked_and_audited_once(
    engine: Engine, pipeline: IngestPipeline, tmp_path: Path
) -> None:
    clock, uplink = Clock(), Uplink()
    config = EntryConfig(
        station_id="st-1",
        public_key=public_key_of(PRIVATE),
        state_path=tmp_path / "entry.sqlite",
        card_uses_per_minute=1,
    )
    store = EntryStore(config.state_path)
    controller = EntryController(
        "node-1", config, store, Door(), uplink, clock, "door-1", decisions=uplink
    )
    card = issue_card(TokenSigner(PRIVATE), CardClaims("c-1", "m-1", "st-1", clock.now))
    controller.present_qr(card)
    clock.move(4)
    controller.present_qr(card)  # a second use in the minute: refused
    clock.move(4)
    controller.present_qr("not a token")

    lines = [(t, m) for t, m in uplink.sent if isinstance(m, DoorDecision)]
    assert [t for t, _ in lines] == ["uws/v1/node-1/door"] * 3
    assert len(store.audit_log()) == 3  # the node's own log keeps them too
    inbound = [Inbound(topic, m.to_payload()) for topic, m in lines]
    pipeline.process(inbound)
    pipeline.process(inbound[1:])  # redelivered after a lost receipt

    with Session(engine) as session:
        rows = session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.actor) == "node:node-1")
            .order_by(col(AuditEntry.at))
        ).all()
    assert [(r.action, r.outcome, r.target, r.station_id) for r in rows] == [
        ("door.unlocked", "ok", "m-1", "st-1"),
        ("door.refused", "denied", "m-1", "st-1"),
        ("door.refused", "denied", "node node-1", "st-1"),
    ]
    assert rows[1].detail.endswith("card, replayed: over 1 uses a minute")
    assert rows[2].detail.endswith("qr, malformed")
    assert rows[0].at < rows[1].at < rows[2].at  # the door's own times, not arrival
