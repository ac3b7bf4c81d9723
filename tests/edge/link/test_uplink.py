"""The uplink against a real Mosquitto: outbox delivery, restarts, last will, commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from edge.config import CloudConfig
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.contracts import (
    Command,
    CommandName,
    CommandOutcome,
    CommandResult,
    Event,
    NodeState,
    NodeStatus,
    NodeTopics,
    Receipt,
    TopicKind,
    decode,
    utcnow,
)
from tests.edge.listener import Listener, Received, make_event
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.integration

NODE = "node-test-1"
TOPICS = NodeTopics(NODE)
REPO = Path(__file__).resolve().parents[3]


def eventually(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def seqs(messages: list[Received]) -> list[int]:
    topic = TOPICS.topic(TopicKind.EVENT)
    return [decode(Event, m.payload).seq for m in messages if m.topic == topic]


@pytest.fixture
def listener(broker: MosquittoBroker) -> Iterator[Listener]:
    sub = Listener(broker.port, f"uws/v1/{NODE}/#", receipts=True)
    yield sub
    sub.close()


@pytest.fixture
def uplink(broker: MosquittoBroker, tmp_path: Path) -> Iterator[Uplink]:
    link = Uplink(NODE, CloudConfig(port=broker.port), Outbox(tmp_path / "outbox.sqlite"))
    link.start()
    assert link.wait_connected(10)
    yield link
    link.stop()
    link.outbox.close()


def start_child(port: int, outbox: Path, count: int) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.edge.link.uplink_child",
            str(port),
            str(outbox),
            NODE,
            str(count),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def kill_9(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)


def test_birth_and_shutdown_status_are_retained(
    broker: MosquittoBroker, uplink: Uplink, listener: Listener
) -> None:
    status_topic = TOPICS.topic(TopicKind.STATUS)
    listener.wait_for(lambda ms: any(m.topic == status_topic for m in ms))
    birth = decode(NodeStatus, listener.on(status_topic)[0].payload)
    assert (birth.state, birth.reason) == (NodeState.ONLINE, "birth")
    uplink.stop()
    listener.wait_for(lambda ms: sum(m.topic == status_topic for m in ms) >= 2)
    later = Listener(broker.port, status_topic)
    try:
        [retained] = later.wait_for(lambda ms: len(ms) >= 1)
        status = decode(NodeStatus, retained.payload)
        assert retained.retain
        assert (status.state, status.reason) == (NodeState.OFFLINE, "shutdown")
    finally:
        later.close()


def test_events_sent_while_broker_is_down_all_arrive_once(
    broker: MosquittoBroker, uplink: Uplink, listener: Listener
) -> None:
    uplink.send(TOPICS.topic(TopicKind.EVENT), make_event(NODE, 0))
    listener.wait_for(lambda ms: seqs(ms) == [0])
    eventually(lambda: uplink.outbox.depth() == 0)
    broker.stop()
    eventually(lambda: not uplink.connected)
    for seq in range(1, 31):
        uplink.send(TOPICS.topic(TopicKind.EVENT), make_event(NODE, seq))
    assert uplink.outbox.depth() == 30
    time.sleep(2.0)  # down for a while: the drain must hold, not lose or spin
    broker.start()
    received = listener.wait_for(lambda ms: len(set(seqs(ms))) == 31, timeout_s=60)
    # Seq 0 may come twice (QoS 1: the listener's own ack may have been cut by the stop);
    # the broker never saw the others before it came back, so each must arrive exactly once.
    assert sorted(s for s in seqs(received) if s > 0) == list(range(1, 31))
    eventually(lambda: uplink.outbox.depth() == 0 and uplink.in_flight() == 0)


def test_new_uplink_resends_what_an_abandoned_one_left(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    outbox_path = tmp_path / "outbox.sqlite"
    broker.stop()
    child, state = start_child(broker.port, outbox_path, 10)
    kill_9(child)
    assert state == "offline"
    broker.start()
    listener = Listener(broker.port, TOPICS.topic(TopicKind.EVENT), receipts=True)
    outbox = Outbox(outbox_path)
    assert outbox.depth() == 10
    second = Uplink(NODE, CloudConfig(port=broker.port), outbox)
    second.start()
    try:
        received = listener.wait_for(lambda ms: len(set(seqs(ms))) == 10)
        assert sorted(set(seqs(received))) == list(range(10))
        eventually(lambda: outbox.depth() == 0)
    finally:
        second.stop()
        outbox.close()
        listener.close()


def test_last_will_is_retained_when_the_process_is_killed(
    broker: MosquittoBroker, listener: Listener, tmp_path: Path
) -> None:
    status_topic = TOPICS.topic(TopicKind.STATUS)
    child, state = start_child(broker.port, tmp_path / "outbox.sqlite", 3)
    try:
        assert state == "connected"
        listener.wait_for(lambda ms: len(set(seqs(ms))) == 3)
    finally:
        kill_9(child)
    listener.wait_for(
        lambda ms: any(
            decode(NodeStatus, m.payload).reason == "will" for m in ms if m.topic == status_topic
        )
    )
    later = Listener(broker.port, status_topic)
    try:
        [retained] = later.wait_for(lambda ms: len(ms) >= 1)
        will = decode(NodeStatus, retained.payload)
        assert retained.retain
        assert (will.state, will.reason, will.ts) == (NodeState.OFFLINE, "will", None)
    finally:
        later.close()


def command(cmd_id: str, name: CommandName, expires_in_s: float) -> bytes:
    now = utcnow()
    return Command(
        cmd_id=cmd_id,
        name=name,
        issued_by="duty@test",
        reason="test",
        issued_at=now,
        expires_at=now + timedelta(seconds=expires_in_s),
    ).to_payload()


def test_commands_expired_refused_done_and_malformed(uplink: Uplink, listener: Listener) -> None:
    ran: list[str] = []

    def unlock(cmd: Command) -> tuple[CommandOutcome, str]:
        ran.append(cmd.cmd_id)
        return CommandOutcome.DONE, "door open"

    uplink.on_command(CommandName.UNLOCK, unlock)
    cmd_topic = TOPICS.topic(TopicKind.CMD)
    listener.publish(cmd_topic, b"{not json")
    listener.publish(cmd_topic, command("c-expired", CommandName.UNLOCK, -5))
    listener.publish(cmd_topic, command("c-lock", CommandName.LOCK, 60))
    listener.publish(cmd_topic, command("c-unlock", CommandName.UNLOCK, 60))
    listener.publish(cmd_topic, command("c-unlock", CommandName.UNLOCK, 60))  # a duplicate
    result_topic = TOPICS.topic(TopicKind.CMD_RESULT)
    listener.wait_for(lambda ms: sum(m.topic == result_topic for m in ms) >= 3)
    # A marker after the duplicate: once it is answered, the duplicate was surely handled.
    listener.publish(cmd_topic, command("c-marker", CommandName.REBOOT, 60))
    listener.wait_for(lambda ms: sum(m.topic == result_topic for m in ms) >= 4)
    results = [decode(CommandResult, m.payload) for m in listener.on(result_topic)]
    outcomes = {r.cmd_id: r.outcome for r in results}
    assert outcomes == {
        "c-expired": CommandOutcome.EXPIRED,
        "c-lock": CommandOutcome.REFUSED,
        "c-unlock": CommandOutcome.DONE,
        "c-marker": CommandOutcome.REFUSED,
    }
    assert len(results) == 4
    assert ran == ["c-unlock"]
    assert all(r.node_id == NODE for r in results)


def test_a_row_stays_until_its_receipt_and_goes_again_meanwhile(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    # No receipts: the broker's PUBACK alone must not delete the row.
    quiet = Listener(broker.port, TOPICS.topic(TopicKind.EVENT))
    cloud = CloudConfig(port=broker.port, resume_delay_s=0, receipt_timeout_s=0.2)
    link = Uplink(NODE, cloud, Outbox(tmp_path / "outbox.sqlite"))
    link.start()
    try:
        row_id = link.send(TOPICS.topic(TopicKind.EVENT), make_event(NODE, 0))
        assert row_id is not None
        quiet.wait_for(lambda ms: len(ms) >= 2)  # sent again for want of a receipt
        assert link.outbox.depth() == 1
        # A receipt for another node is not ours: ignored.
        other = Receipt(node_id="node-other", message_ids=[row_id], ts=utcnow())
        quiet.publish(TOPICS.topic(TopicKind.RECEIPT), other.to_payload())
        receipt = Receipt(node_id=NODE, message_ids=[row_id], ts=utcnow())
        quiet.publish(TOPICS.topic(TopicKind.RECEIPT), receipt.to_payload())
        eventually(lambda: link.outbox.depth() == 0 and link.unreceipted() == 0)
    finally:
        link.stop()
        link.outbox.close()
        quiet.close()
