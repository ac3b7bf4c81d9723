"""MQTT consumer: validate contract messages in batches, persist them, then acknowledge.

A message is acknowledged to the broker only after its transaction commits, so a crash of
cloud-duty loses nothing: the broker re-delivers what was never acknowledged.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from station.contracts import (
    Command,
    CommandResult,
    ContractError,
    Event,
    Message,
    NodeHealth,
    NodeStatus,
    NodeTopics,
    StationState,
    TopicKind,
    Visit,
    decode_for_topic,
    parse_topic,
    subscription,
)
from station.duty.alerts import DEFAULT_REOPEN_WINDOW, AlertBook, apply_event
from station.duty.clock import Clock
from station.duty.commands import apply_result
from station.duty.models import EventRecord
from station.duty.nodes import (
    NodeDirectory,
    apply_device_states,
    apply_heartbeats,
    apply_status,
)
from station.duty.settings import DutySettings
from station.duty.snapshots import SnapshotStore
from station.duty.visits import apply_visit

logger = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Inbound:
    """A raw message as the broker delivered it."""

    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0


@dataclass
class IngestStats:
    """Counters since start, read by health checks and benchmarks."""

    received: int = 0
    persisted: int = 0
    rejected: int = 0
    batches: int = 0


@dataclass
class _Sorted:
    beats: dict[str, NodeHealth] = field(default_factory=dict)
    statuses: list[NodeStatus] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)
    states: dict[str, StationState] = field(default_factory=dict)
    nodes: set[str] = field(default_factory=set)


def _no_delay(_client: mqtt.Client, _userdata: object, sock: object) -> None:
    # Acks and commands are tiny packets; Nagle's algorithm would hold each ~40 ms.
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def parse_node(topic: str) -> str:
    """The node id of a topic in the tree, or '' for any other topic."""
    try:
        return parse_topic(topic)[0]
    except ContractError:
        return ""


class IngestPipeline:
    """Turns a batch of raw messages into one database transaction."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        directory: NodeDirectory,
        on_feed_change: Callable[[], None] = lambda: None,
        on_opened: Callable[[list[int]], None] = lambda _ids: None,
        snapshots: SnapshotStore | None = None,
        reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._directory = directory
        self._on_feed_change = on_feed_change
        self._on_opened = on_opened
        self._snapshots = snapshots or SnapshotStore(Path("var/snapshots"))
        self._reopen_window = reopen_window
        self.stats = IngestStats()

    def process(self, batch: list[Inbound]) -> None:
        """Validate and persist a batch; refused messages are logged and dropped."""
        snapshots = [m for m in batch if "/snapshot/" in m.topic]
        if snapshots:
            self._store_snapshots(snapshots)
            batch = [m for m in batch if "/snapshot/" not in m.topic]
        decoded = self._decode(batch)
        try:
            changed, opened = self._write(decoded)
        except IntegrityError:
            # Another replica wrote the same event or alert key first; re-read and re-apply.
            logger.info("concurrent write on a batch of %d; retrying", len(decoded))
            changed, opened = self._write(decoded)
        self.stats.batches += 1
        if changed:
            self._on_feed_change()
        if opened:
            self._on_opened(opened)

    def _store_snapshots(self, items: list[Inbound]) -> None:
        with Session(self._engine) as session:
            known = self._directory.resolve(session, {parse_node(i.topic) for i in items})
        for item in items:
            self.stats.received += 1
            try:
                node_id, _, event_id = parse_topic(item.topic)
                if node_id not in known:
                    raise ContractError(f"unknown node {node_id}")
                self._snapshots.save(node_id, event_id or "", item.payload)
                self.stats.persisted += 1
            except ContractError as err:
                self.stats.rejected += 1
                logger.warning("refused snapshot on %s: %s", item.topic, err)

    def _decode(self, batch: list[Inbound]) -> list[tuple[str, Message]]:
        decoded: list[tuple[str, Message]] = []
        for item in batch:
            self.stats.received += 1
            try:
                decoded.append(decode_for_topic(item.topic, item.payload))
            except ContractError as err:
                self.stats.rejected += 1
                logger.warning("refused message on %s: %s", item.topic, str(err)[:300])
        return decoded

    def _write(self, decoded: list[tuple[str, Message]]) -> tuple[bool, list[int]]:
        with Session(self._engine, autoflush=False) as session:
            stations = self._directory.resolve(session, {node for node, _ in decoded})
            work = self._sort(decoded, stations)
            book = AlertBook(session, self._reopen_window)
            now = self._clock.now()
            for status in work.statuses:
                apply_status(session, book, stations[status.node_id], status, now)
            apply_heartbeats(session, book, work.beats, now)
            self._apply_events(session, book, stations, work.events)
            for visit in work.visits:
                apply_visit(session, stations[visit.node_id], visit)
            for result in work.results:
                apply_result(session, result)
            apply_device_states(session, work.states)
            book.post()
            changed = bool(session.info.get("feed_changes"))
            session.commit()
        self.stats.persisted += len(decoded) - self._unknown_count(decoded, stations)
        return changed, book.opened

    def _sort(self, decoded: list[tuple[str, Message]], stations: dict[str, str]) -> _Sorted:
        work = _Sorted()
        for node_id, message in decoded:
            if node_id not in stations:
                continue
            if isinstance(message, NodeHealth):
                work.beats[node_id] = message
            elif isinstance(message, NodeStatus):
                work.statuses.append(message)
            elif isinstance(message, Event):
                work.events.append(message)
            elif isinstance(message, Visit):
                work.visits.append(message)
            elif isinstance(message, CommandResult):
                work.results.append(message)
            elif isinstance(message, StationState):
                work.states[node_id] = message
        return work

    def _unknown_count(self, decoded: list[tuple[str, Message]], stations: dict[str, str]) -> int:
        unknown = [node for node, _ in decoded if node not in stations]
        for node_id in sorted(set(unknown)):
            logger.warning(
                "refused %d message(s) from unknown node %s", unknown.count(node_id), node_id
            )
        self.stats.rejected += len(unknown)
        return len(unknown)

    @staticmethod
    def _apply_events(
        session: Session, book: AlertBook, stations: dict[str, str], events: list[Event]
    ) -> None:
        if not events:
            return
        book.lock({(stations[e.node_id], e.kind.value, e.zone) for e in events})
        ids = {e.event_id for e in events}
        known = {
            r.id: r for r in session.exec(select(EventRecord).where(col(EventRecord.id).in_(ids)))
        }
        for event in events:
            known[event.event_id] = apply_event(
                book, stations[event.node_id], event, known.get(event.event_id)
            )


class MqttIngest:
    """Consumes node topics through a shared subscription and feeds the pipeline."""

    KINDS = (
        TopicKind.EVENT,
        TopicKind.HEALTH,
        TopicKind.VISIT,
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
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.mqtt_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if s.mqtt_username:
            password = s.mqtt_password.get_secret_value() if s.mqtt_password else None
            client.username_pw_set(s.mqtt_username, password)
        if s.mqtt_tls_ca_file:
            client.tls_set(ca_certs=s.mqtt_tls_ca_file)
        # Back within 2 s of a broker restart, before nodes resume (they wait
        # `resume_delay_s`): Mosquitto 2.0 does not restore shared subscriptions.
        client.reconnect_delay_set(min_delay=1, max_delay=2)
        client.on_connect = self._on_connect
        client.on_socket_open = _no_delay
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

    def stop(self) -> None:
        """Finish the batch in hand, then disconnect."""
        self._stop.set()
        self._worker.join(timeout=10)
        self._client.disconnect()
        self._client.loop_stop()

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
        self._inbox.put(Inbound(msg.topic, bytes(msg.payload), msg.mid, msg.qos))

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
        for item in batch:
            if item.qos and self._client.ack(item.mid, item.qos) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                logger.debug("ack of mid %s not sent (disconnected)", item.mid)
