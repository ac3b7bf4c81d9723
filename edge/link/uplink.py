"""The node's MQTT link to the cloud: birth and last will, a durable outbox, remote commands."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.config import CloudConfig
from edge.link.outbox import Outbox, OutboxRow
from edge.link.receipts import ReceiptWindow
from station.contracts import (
    MESSAGE_ID_PROPERTY,
    Command,
    CommandName,
    CommandOutcome,
    CommandResult,
    ContractError,
    Message,
    NodeState,
    NodeStatus,
    NodeTopics,
    Receipt,
    TopicKind,
    decode,
    utcnow,
)
from station.mqtt import BrokerLogin, LastWill, make_client, stop_loop

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
"""Where the uplink reads the wall time (command expiry, message stamps); tests pass their own."""

CommandHandler = Callable[[Command], tuple[CommandOutcome, str]]
"""Runs a command and says how it went; called on the MQTT network thread, so it must be quick."""

_SEEN_COMMANDS: Final = 256
_DRAIN_IDLE_S: Final = 0.5
_RECONNECT_MIN_S: Final = 1
_RECONNECT_MAX_S: Final = 30


class Uplink:
    """Publishes through a durable outbox with QoS 1; a row is deleted only on its Receipt.

    Each publish carries the row id as the `uws-msg` user property; cloud-duty names it in a
    Receipt once the message is committed. A PUBACK only means the broker took the message
    (it may still lose it: shared subscriptions do not survive a broker restart), so a row
    without a receipt goes again after `receipt_timeout_s`, doubling up to the backoff cap.
    Rows handed to paho stay excluded from the drain until their PUBACK: paho keeps them
    across a reconnect. The cloud may see a duplicate (ingest is idempotent), never a gap.
    """

    def __init__(
        self,
        node_id: str,
        cloud: CloudConfig,
        outbox: Outbox,
        *,
        version: str = "",
        clock: Clock = utcnow,
        max_in_flight: int = 100,
    ) -> None:
        """Prepare the client; nothing connects before start()."""
        self.node_id = node_id
        self.topics = NodeTopics(node_id)
        self.outbox = outbox
        self._cloud = cloud
        self._version = version
        self._clock = clock
        self._max_in_flight = max_in_flight
        self._handlers: dict[CommandName, CommandHandler] = {}
        self._seen_commands: OrderedDict[str, None] = OrderedDict()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._acks: queue.SimpleQueue[tuple[int, bool, str]] = queue.SimpleQueue()
        # Only the drain thread touches these two: mid -> outbox row id, and back.
        self._mid_to_row: dict[int, int] = {}
        self._row_ids: set[int] = set()
        self._window = ReceiptWindow(
            cloud.receipt_timeout_s, cloud.receipt_backoff_max_s, cloud.max_unreceipted
        )
        self._receipts: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
        self._drain_thread: threading.Thread | None = None
        self._resume_at = 0.0
        self._client = self._make_client()

    # -- public API -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Return whether the broker link is up."""
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Block until connected or the timeout passes; return whether connected."""
        return self._connected.wait(timeout_s)

    def on_command(self, name: CommandName, handler: CommandHandler) -> None:
        """Register the handler for one command; commands without one are refused."""
        self._handlers[name] = handler

    def send(self, topic: str, message: Message | bytes, retain: bool = False) -> int | None:
        """Queue a message durably with QoS 1; return its outbox id (None: dropped by the cap)."""
        payload = message if isinstance(message, bytes) else message.to_payload()
        row_id = self.outbox.put(topic, payload, qos=1, retain=retain)
        self._wake.set()
        return row_id

    def publish_now(self, topic: str, message: Message, qos: int = 0, retain: bool = False) -> bool:
        """Publish an ephemeral message directly (not durable); return whether it went out."""
        if not self.connected:
            return False
        info = self._client.publish(topic, message.to_payload(), qos=qos, retain=retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def in_flight(self) -> int:
        """Return how many outbox rows are with paho, waiting for their PUBACK."""
        return len(self._row_ids)

    def unreceipted(self) -> int:
        """Return how many rows the broker took that cloud-duty has not receipted yet."""
        return len(self._window)

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers) and start draining."""
        cloud = self._cloud
        connect_props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        connect_props.SessionExpiryInterval = cloud.session_expiry_s
        log.info(
            "uplink %s connecting to %s:%s (tls=%s)",
            self._client_id,
            cloud.host,
            cloud.port,
            cloud.tls_ca_file is not None,
        )
        self._client.connect_async(
            cloud.host,
            cloud.port,
            keepalive=cloud.keepalive_s,
            clean_start=False,
            properties=connect_props,
        )
        self._client.loop_start()
        self._drain_thread = threading.Thread(
            target=self._drain_loop, name="uplink-drain", daemon=True
        )
        self._drain_thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Say goodbye (retained offline/shutdown status), disconnect and stop the threads,
        all within `timeout_s`."""
        deadline = time.monotonic() + timeout_s

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        self._stopping.set()
        self._wake.set()
        if self._drain_thread is not None:
            self._drain_thread.join(left())
        self._await_receipts(left())
        if self.connected:
            goodbye = self._status(NodeState.OFFLINE, "shutdown")
            info = self._client.publish(self._status_topic, goodbye, qos=1, retain=True)
            try:
                info.wait_for_publish(left())
            except (RuntimeError, ValueError) as err:
                log.warning("shutdown status not delivered: %s", err)
        # PUBACKs that came in meanwhile still count: those rows need not go again.
        self._apply_acks()
        self._apply_receipts()
        self._client.disconnect()
        stop_loop(self._client, max(1.0, left()))
        self._connected.clear()
        log.info("uplink stopped; %d message(s) left in the outbox", self.outbox.depth())

    def _await_receipts(self, timeout_s: float) -> None:
        # Events sent just before a clean stop (the ENDs) are stored by now, or soon: wait
        # briefly for their receipts rather than leave them to be sent again next start.
        deadline = time.monotonic() + timeout_s
        while self.connected and len(self._window) and time.monotonic() < deadline:
            self._apply_acks()
            self._apply_receipts()
            time.sleep(0.05)

    # -- paho wiring ------------------------------------------------------------------------

    @property
    def _client_id(self) -> str:
        return f"edge-{self.node_id}"

    @property
    def _status_topic(self) -> str:
        return self.topics.topic(TopicKind.STATUS)

    def _status(self, state: NodeState, reason: str, stamped: bool = True) -> bytes:
        status = NodeStatus.model_validate(
            {
                "node_id": self.node_id,
                "state": state,
                "reason": reason,
                "ts": self._clock() if stamped else None,
                "version": self._version,
            }
        )
        return status.to_payload()

    def _make_client(self) -> mqtt.Client:
        cloud = self._cloud
        secret = cloud.password.get_secret_value() if cloud.password is not None else None
        login = BrokerLogin(cloud.host, cloud.port, cloud.username, secret, cloud.tls_ca_file)
        # The broker publishes this for us if the link dies without a DISCONNECT.
        will = LastWill(self._status_topic, self._status(NodeState.OFFLINE, "will", stamped=False))
        client = make_client(
            login,
            client_id=self._client_id,
            will=will,
            reconnect_s=(_RECONNECT_MIN_S, _RECONNECT_MAX_S),
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.warning("broker refused uplink %s: %s", self._client_id, reason)
            return
        log.info("uplink connected (session present: %s)", flags.session_present)
        self._resume_at = time.monotonic() + self._cloud.resume_delay_s
        client.subscribe(
            [(self.topics.topic(TopicKind.CMD), 1), (self.topics.topic(TopicKind.RECEIPT), 1)]
        )
        client.publish(self._status_topic, self._status(NodeState.ONLINE, "birth"), 1, True)
        self._connected.set()
        self._wake.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("uplink disconnected: %s; reconnecting", reason)

    def _on_publish(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reason: Any, _props: Any
    ) -> None:
        # Runs under paho's locks: hand the ack to the drain thread rather than touch state.
        self._acks.put((mid, bool(reason.is_failure), str(reason)))
        self._wake.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topics.topic(TopicKind.RECEIPT):
            self._on_receipt(bytes(msg.payload))
            return
        try:
            command = decode(Command, bytes(msg.payload))
        except ContractError as err:
            log.warning("ignored malformed command on %s: %s", msg.topic, err)
            return
        self._handle_command(command)

    def _on_receipt(self, payload: bytes) -> None:
        try:
            receipt = decode(Receipt, payload)
        except ContractError as err:
            log.warning("ignored malformed receipt: %s", err)
            return
        if receipt.node_id != self.node_id:
            log.warning("ignored a receipt for node %s", receipt.node_id)
            return
        # The drain thread owns the outbox bookkeeping; hand the ids over.
        self._receipts.put(receipt.message_ids)
        self._wake.set()

    # -- commands ---------------------------------------------------------------------------

    def _handle_command(self, command: Command) -> None:
        if command.cmd_id in self._seen_commands:
            # QoS 1 may deliver twice; an unlock must not run twice.
            log.info("command %s already handled; duplicate ignored", command.cmd_id)
            return
        self._seen_commands[command.cmd_id] = None
        while len(self._seen_commands) > _SEEN_COMMANDS:
            self._seen_commands.popitem(last=False)
        outcome, detail = self._run_command(command)
        log.info(
            "command %s %s from %s: %s %s",
            command.cmd_id,
            command.name.value,
            command.issued_by,
            outcome.value,
            detail,
        )
        result = CommandResult(
            cmd_id=command.cmd_id,
            node_id=self.node_id,
            outcome=outcome,
            detail=detail[:500],
            ts=self._clock(),
        )
        self.send(self.topics.topic(TopicKind.CMD_RESULT), result)

    def _run_command(self, command: Command) -> tuple[CommandOutcome, str]:
        now = self._clock()
        if command.expired(now):
            return CommandOutcome.EXPIRED, f"expired at {command.expires_at.isoformat()}"
        handler = self._handlers.get(command.name)
        if handler is None:
            return CommandOutcome.REFUSED, f"this node does not handle {command.name.value!r}"
        try:
            return handler(command)
        except Exception as err:
            log.exception("command %s failed", command.cmd_id)
            return CommandOutcome.FAILED, f"{type(err).__name__}: {err}"

    # -- the drain --------------------------------------------------------------------------

    def _drain_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(_DRAIN_IDLE_S)
            self._wake.clear()
            try:
                self._apply_acks()
                self._apply_receipts()
                if self.connected and time.monotonic() >= self._resume_at:
                    self._publish_pending()
            except Exception:
                # A broken disk or database must not kill the link; try again shortly.
                log.exception("uplink drain failed; retrying")
                self._stopping.wait(_DRAIN_IDLE_S)

    def _publish_pending(self) -> None:
        room = self._max_in_flight - len(self._row_ids)
        if room <= 0:
            return
        window_full = self._window.full
        waiting = self._window.not_due()
        for row in self.outbox.pending(room, exclude=self._row_ids | waiting):
            if window_full and row.id not in self._window:
                continue  # too much unreceipted already: only re-sends go out
            if not self._publish_row(row):
                return

    def _publish_row(self, row: OutboxRow) -> bool:
        """Hand one row to paho; return False when paho will not take more now."""
        try:
            info = self._client.publish(
                row.topic, row.payload, qos=row.qos, retain=row.retain, properties=_tagged(row.id)
            )
        except ValueError as err:
            # A row paho can never send (bad topic, oversized) would block the queue forever.
            log.error("dropping outbox row %s for %s: %s", row.id, row.topic, err)
            self.outbox.delete([row.id])
            return True
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning("paho did not take outbox row %s: %s", row.id, mqtt.error_string(info.rc))
            return False
        # NO_CONN still queues a QoS 1 message inside paho; it goes out on reconnect.
        self._mid_to_row[info.mid] = row.id
        self._row_ids.add(row.id)
        return True

    def _apply_acks(self) -> None:
        done: list[int] = []
        while True:
            try:
                mid, failed, reason = self._acks.get_nowait()
            except queue.Empty:
                break
            row_id = self._mid_to_row.pop(mid, None)
            if row_id is None:
                continue  # a direct publish (birth, health), not an outbox row
            self._row_ids.discard(row_id)
            if failed:
                # The broker refused it for good (e.g. not authorised); retrying cannot help.
                log.error("broker refused outbox row %s: %s; dropped", row_id, reason)
                done.append(row_id)
            else:
                self._window.acked(row_id)
        if done:
            self.outbox.delete(done)

    def _apply_receipts(self) -> None:
        done: list[int] = []
        while True:
            try:
                done.extend(self._receipts.get_nowait())
            except queue.Empty:
                break
        if not done:
            return
        self._window.receipted(done, self._row_ids)
        self.outbox.delete(done)


def _tagged(row_id: int) -> Properties:
    """Return PUBLISH properties naming the outbox row, for cloud-duty to receipt."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = (MESSAGE_ID_PROPERTY, str(row_id))
    return props
