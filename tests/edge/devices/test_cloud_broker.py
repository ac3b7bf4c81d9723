"""The shipped cloud broker config and ACL on a real Mosquitto: each node stays in its subtree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station.contracts import NodeTopics, TopicKind, subscription
from tests.edge.devices.brokers import TlsFiles, make_ca, shipped_broker
from tests.edge.devices.mqtt_probe import Probe

pytestmark = pytest.mark.integration

USERS = {"node-1": "pw-one", "node-2": "pw-two", "duty": "pw-duty"}
ONE, TWO = NodeTopics("node-1"), NodeTopics("node-2")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def cloud(tmp_path: Path, tls: TlsFiles) -> Iterator[tuple[int, int]]:
    broker, tls_port = shipped_broker("cloud", tmp_path / "cloud", USERS, tls)
    broker.start()
    yield broker.port, tls_port
    broker.stop()


@pytest.fixture
def probes(cloud: tuple[int, int]) -> Iterator[dict[str, Probe]]:
    port, _ = cloud
    clients = {user: Probe(port, user, password) for user, password in USERS.items()}
    assert all(p.connected for p in clients.values())
    yield clients
    for probe in clients.values():
        probe.close()


def test_anonymous_and_wrong_passwords_are_refused(cloud: tuple[int, int]) -> None:
    port, _ = cloud
    for user, password in ((None, None), ("node-1", "wrong"), ("stranger", "pw-one")):
        probe = Probe(port, user, password)
        assert not probe.connected, f"{user} got in"
        probe.close()


def test_a_node_publishes_in_its_own_subtree_and_duty_reads_it_shared(
    probes: dict[str, Probe],
) -> None:
    duty = probes["duty"]
    assert duty.subscribe(subscription(TopicKind.EVENT, "duty"))
    assert duty.subscribe(subscription(TopicKind.STATUS))
    assert probes["node-1"].publish(ONE.topic(TopicKind.EVENT), b"one")
    duty.wait_message(ONE.topic(TopicKind.EVENT), b"one")
    assert probes["node-1"].publish(ONE.topic(TopicKind.STATUS), b"up")
    duty.wait_message(ONE.topic(TopicKind.STATUS), b"up")


def test_a_node_cannot_publish_outside_its_subtree(probes: dict[str, Probe]) -> None:
    duty, one = probes["duty"], probes["node-1"]
    assert duty.subscribe("$share/duty/uws/v1/#")
    for topic in (TWO.topic(TopicKind.EVENT), TWO.topic(TopicKind.CMD), "uws/v1/x", "other/t"):
        assert not one.publish(topic, b"forged"), topic
    # A message after the refused ones arrives, so the refused ones were dropped, not late.
    assert one.publish(ONE.topic(TopicKind.EVENT), b"after")
    duty.wait_message(ONE.topic(TopicKind.EVENT), b"after")
    assert all(payload != b"forged" for _, payload in duty.received)


def test_a_node_cannot_read_outside_its_subtree(probes: dict[str, Probe]) -> None:
    # Mosquitto 2.0 grants any SUBSCRIBE and applies the ACL on delivery: what counts is that
    # nothing outside the node's subtree, retained or live, ever reaches it.
    duty, one, two = probes["duty"], probes["node-1"], probes["node-2"]
    two_status = TWO.topic(TopicKind.STATUS)
    retained = two.client.publish(two_status, b"retained-two", qos=1, retain=True)
    retained.wait_for_publish(15)
    assert retained.is_published()
    for topic in ("uws/v1/node-2/#", "uws/v1/+/event", "uws/v1/#", "#", "$share/g/uws/v1/#"):
        one.subscribe(topic)
    assert two.publish(TWO.topic(TopicKind.EVENT), b"two-event")
    assert duty.publish(TWO.topic(TopicKind.CMD), b"two-cmd")
    # Published after the others: once it arrives, anything leaked would have arrived first.
    assert duty.publish(ONE.topic(TopicKind.CMD), b"canary")
    one.wait_message(ONE.topic(TopicKind.CMD), b"canary")
    assert all(topic.startswith("uws/v1/node-1/") for topic, _ in one.received), one.received


def test_duty_commands_nodes_but_cannot_forge_their_messages(probes: dict[str, Probe]) -> None:
    duty, one, two = probes["duty"], probes["node-1"], probes["node-2"]
    assert one.subscribe(ONE.topic(TopicKind.CMD))
    assert two.subscribe(TWO.topic(TopicKind.CMD))
    assert duty.publish(ONE.topic(TopicKind.CMD), b"cmd-for-one")
    one.wait_message(ONE.topic(TopicKind.CMD), b"cmd-for-one")
    assert not duty.publish(ONE.topic(TopicKind.EVENT), b"forged")
    assert not duty.publish(ONE.topic(TopicKind.CMD_RESULT), b"forged")
    assert all(payload != b"cmd-for-one" for _, payload in two.received)


def test_tls_listener_verifies_against_the_ca(cloud: tuple[int, int], tls: TlsFiles) -> None:
    _, tls_port = cloud
    probe = Probe(tls_port, "node-1", "pw-one", ca=str(tls.ca))
    assert probe.connected
    assert probe.publish(ONE.topic(TopicKind.HEALTH), b"{}")
    probe.close()
