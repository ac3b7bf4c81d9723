"""Wire contracts: round trips, and every kind of bad payload refused with a clear reason."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from station.contracts import (
    MAX_PAYLOAD_BYTES,
    Command,
    CommandName,
    ContractError,
    Event,
    EventKind,
    EventPhase,
    NodeState,
    NodeStatus,
    NodeTopics,
    TopicKind,
    decode,
    decode_for_topic,
    parse_topic,
    subscription,
    utcnow,
)


def _event(**changes: object) -> Event:
    now = utcnow()
    fields: dict[str, object] = {
        "event_id": "ev-1",
        "node_id": "node-1",
        "camera_id": "door",
        "kind": EventKind.FALL,
        "phase": EventPhase.NEW,
        "seq": 0,
        "ts": now,
        "started_at": now,
        "score": 0.9,
        "zone": "room",
    }
    fields.update(changes)
    return Event.model_validate(fields)


def test_event_round_trips_with_schema_version() -> None:
    event = _event()
    payload = event.to_payload()
    assert json.loads(payload)["schema"] == 1
    assert decode(Event, payload) == event


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00\x01", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"event_id": "x"}', "unknown schema version None"),
        (b'{"schema": 2}', "unknown schema version 2"),
        (b" " * (MAX_PAYLOAD_BYTES + 1), "exceeds"),
    ],
)
def test_malformed_payloads_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        decode(Event, payload)


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("score", 1.5, "score"),
        ("score", "high", "score"),
        ("kind", "alien", "kind"),
        ("seq", -1, "seq"),
        ("event_id", "../../etc", "event_id"),
        ("ts", "2026-11-23T03:00:00", "ts"),  # naive times are refused
        ("surprise", 1, "surprise"),
    ],
)
def test_wrong_fields_are_refused_naming_the_field(field: str, value: object, where: str) -> None:
    raw = json.loads(_event().to_payload())
    raw[field] = value
    with pytest.raises(ContractError, match=f"invalid Event: {where}"):
        decode(Event, json.dumps(raw).encode())


def test_topics_and_their_parsing() -> None:
    topics = NodeTopics("node-1")
    assert topics.topic(TopicKind.CMD_RESULT) == "uws/v1/node-1/cmd/result"
    assert parse_topic("uws/v1/node-1/cmd/result") == ("node-1", TopicKind.CMD_RESULT, None)
    assert parse_topic(topics.snapshot("ev-9")) == ("node-1", TopicKind.SNAPSHOT, "ev-9")
    assert subscription(TopicKind.EVENT, "duty") == "$share/duty/uws/v1/+/event"
    for bad in (
        "uws/v2/node-1/event",
        "uws/v1/node-1/secret",
        "uws/v1/+/event",
        "uws/v1/a/b/event",
    ):
        with pytest.raises(ContractError, match="not in the uws/v1 tree"):
            parse_topic(bad)


def test_node_in_body_must_match_topic() -> None:
    payload = _event(node_id="node-2").to_payload()
    with pytest.raises(ContractError, match="does not match topic node"):
        decode_for_topic(NodeTopics("node-1").topic(TopicKind.EVENT), payload)
    node, message = decode_for_topic(NodeTopics("node-2").topic(TopicKind.EVENT), payload)
    assert (node, type(message)) == ("node-2", Event)


def test_last_will_without_time_and_command_expiry() -> None:
    will = NodeStatus(node_id="n1", state=NodeState.OFFLINE, reason="will")
    assert decode(NodeStatus, will.to_payload()).ts is None
    now = utcnow()
    cmd = Command(
        cmd_id="c1",
        name=CommandName.UNLOCK,
        issued_by="duty:li",
        issued_at=now,
        expires_at=now + timedelta(seconds=30),
    )
    assert not cmd.expired(now)
    assert cmd.expired(now + timedelta(seconds=30))
