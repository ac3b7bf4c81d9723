"""The node link: cloud-duty's MQTT consumer, feeding the ingest pipeline, and the way
commands go out to nodes.

A message is acknowledged to the broker only after its transaction commits, so a crash of
cloud-duty loses nothing: the broker re-delivers what was never acknowledged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.exc import OperationalError

from station.contracts import (
    MAX_RECEIPT_IDS,
    MESSAGE_ID_PROPERTY,
    Command,
    NodeTopics,
    Receipt,
    TopicKind,
    subscription,
    utcnow,
)
from station.duty.fleet.ingest import Inbound, IngestPipeline, parse_node
from station.duty.settings import DutySettings
from station.mqtt import BrokerLogin, make_client, stop_loop

logger = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600


class MqttIngest:
    """Consumes node topics through a shared subscription and feeds the pipeline."""

    KINDS = (
        TopicKind.EVENT,
        TopicKind.HEALTH,
        TopicKind.VISIT,
        TopicKind.DOOR,
        TopicKind.CMD_RESULT,
        TopicKind.SNAPSHOT,
        TopicKind.STATE,
    )

    def __init__(self, settings: DutySettings, pipeline: IngestPipeline) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._inbox: queue.Queue[Inbound] = queue.Queue()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._run, name="duty-ingest", daemon=True)
        self.connected = threading.Event()
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        s = self._settings
        login = BrokerLogin(
            host=s.mqtt_host,
            port=s.mqtt_port,
            username=s.mqtt_username,
            password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
            tls_ca_file=s.mqtt_tls_ca_file or None,
        )
        # Back within 2 s of a broker restart, before nodes resume (they wait
        # `resume_delay_s`): Mosquitto 2.0 does not restore shared subscriptions.
        client = make_client(
            login, client_id=s.mqtt_client_id, v5=True, manual_ack=True, reconnect_s=(1, 2)
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        """Connect (retrying in the background) and start consuming."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = max(20, min(65535, self._settings.ingest_batch_size * 2))
        self._client.connect_async(
            self._settings.mqtt_host,
            self._settings.mqtt_port,
            keepalive=30,
            clean_start=False,
            properties=props,
        )
        self._client.loop_start()
        self._worker.start()

    def backlog(self) -> int:
        """Messages received from the broker and not yet written."""
        return self._inbox.qsize()

    def stop(self) -> None:
        """Finish the batch in hand, then disconnect."""
        self._stop.set()
        self._worker.join(timeout=10)
        self._client.disconnect()
        stop_loop(self._client)

    def publish_command(self, node_id: str, command: Command) -> None:
        """Publish a command at QoS 1, never retained; paho holds it while the link is down."""
        info = self._client.publish(
            NodeTopics(node_id).topic(TopicKind.CMD), command.to_payload(), qos=1, retain=False
        )
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            logger.warning("command %s to %s queued: broker link is down", command.cmd_id, node_id)

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if reason.is_failure:
            logger.error("broker refused cloud-duty: %s", reason)
            return
        group = self._settings.share_group
        topics = [(subscription(k, group), SubscribeOptions(qos=1)) for k in self.KINDS]
        # Status is retained; shared subscriptions never deliver retained messages.
        topics.append((subscription(TopicKind.STATUS), SubscribeOptions(qos=1)))
        client.subscribe(topics)
        logger.info("ingest connected to %s:%s", self._settings.mqtt_host, self._settings.mqtt_port)
        self.connected.set()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            logger.warning("ingest lost the broker (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        inbound = Inbound(msg.topic, bytes(msg.payload), msg.mid, msg.qos, message_id_of(msg))
        self._inbox.put(inbound)

    def _next_batch(self) -> list[Inbound]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        # One deadline for the whole batch: under steady load a per-message wait never
        # expires, and every batch would wait to fill up, adding its whole fill time.
        deadline = time.monotonic() + self._settings.ingest_batch_wait_ms / 1000
        limit = self._settings.ingest_batch_size
        while len(batch) < limit:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self._inbox.get(timeout=remaining)
                    if remaining > 0
                    else self._inbox.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not self._stop.is_set() or not self._inbox.empty():
            batch = self._next_batch()
            if batch:
                self._process_until_done(batch)

    def _process_singly(self, batch: list[Inbound]) -> None:
        for item in batch:
            try:
                self._pipeline.process([item])
            except Exception:
                # One poisoned message must not stall every node behind it.
                logger.exception("dropped a message on %s that cannot be stored", item.topic)
                self._pipeline.stats.refuse("unstorable")

    def _process_until_done(self, batch: list[Inbound]) -> None:
        delay = 0.5
        while True:
            try:
                self._pipeline.process(batch)
                break
            except OperationalError as err:
                # The database is away: keep the batch unacknowledged and try again.
                logger.error("database unavailable (%s); retrying in %.1f s", err.orig, delay)
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, 10.0)
            except Exception:
                logger.exception("batch of %d failed; applying one by one", len(batch))
                self._process_singly(batch)
                break
        self._send_receipts(batch)
        for item in batch:
            if item.qos and self._client.ack(item.mid, item.qos) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                logger.debug("ack of mid %s not sent (disconnected)", item.mid)

    def _send_receipts(self, batch: list[Inbound]) -> None:
        """Tell each node which of its outbox messages are now stored (or refused for good)."""
        by_node: dict[str, list[int]] = {}
        for item in batch:
            node_id = parse_node(item.topic)
            if item.message_id is not None and node_id:
                by_node.setdefault(node_id, []).append(item.message_id)
        for node_id, ids in by_node.items():
            topic = NodeTopics(node_id).topic(TopicKind.RECEIPT)
            for start in range(0, len(ids), MAX_RECEIPT_IDS):
                chunk = ids[start : start + MAX_RECEIPT_IDS]
                receipt = Receipt(node_id=node_id, message_ids=chunk, ts=utcnow())
                # Lost with the link? The node sends again and ingest, idempotent, re-receipts.
                self._client.publish(topic, receipt.to_payload(), qos=1, retain=False)


def message_id_of(msg: mqtt.MQTTMessage) -> int | None:
    """Return the node's outbox id from the uws-msg user property, if it carries one."""
    props = getattr(msg, "properties", None)
    for name, value in getattr(props, "UserProperty", None) or []:
        if name == MESSAGE_ID_PROPERTY:
            try:
                return int(value)
            except ValueError:
                return None
    return None
