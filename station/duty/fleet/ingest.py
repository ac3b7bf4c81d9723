"""The ingest pipeline: validate contract messages from nodes in batches and persist each
batch in one transaction (events, heartbeats, statuses, visits, door decisions, results,
device states)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from station.contracts import (
    CommandResult,
    ContractError,
    DoorDecision,
    Event,
    Message,
    NodeHealth,
    NodeStatus,
    StationState,
    Visit,
    decode_for_topic,
    parse_topic,
)
from station.duty.alerting.alert_book import AlertBook, AlertKey, apply_event
from station.duty.alerting.alerts import (
    DEFAULT_REOPEN_WINDOW,
    OCCUPANCY_KINDS,
    alert_zone,
    event_severity,
)
from station.duty.alerting.models import EventRecord
from station.duty.alerting.snapshots import SnapshotStorage, SnapshotStore
from station.duty.clock import Clock
from station.duty.errors import UnavailableError
from station.duty.fleet.commands import apply_result
from station.duty.fleet.liveness import apply_device_states, apply_heartbeats, apply_status
from station.duty.fleet.node_health import HealthLimits, apply_health_checks
from station.duty.fleet.registry import NodeDirectory
from station.duty.people.audit import apply_door_decisions
from station.duty.people.visits import apply_visit

logger = logging.getLogger(__name__)

DEFAULT_LIMITS = HealthLimits(camera_silent_s=60, inference_budget_ms=1000, disk_full_percent=95)


@dataclass(frozen=True)
class Inbound:
    """A raw message as the broker delivered it."""

    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0
    message_id: int | None = None  # the node's outbox id (uws-msg), receipted once stored


@dataclass
class IngestStats:
    """Counters since start, read by health checks, metrics and benchmarks."""

    received: int = 0
    persisted: int = 0
    rejected: int = 0
    batches: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # by reason
    last_batch_at: datetime | None = None  # the clock's time of the last batch written

    def refuse(self, reason: str, count: int = 1) -> None:
        """Count refused messages under one reason."""
        self.rejected += count
        self.refused[reason] = self.refused.get(reason, 0) + count


BatchObserver = Callable[[int, float, float | None], None]
"""Told of each batch written: its size, its seconds, and the age of its oldest message."""


@dataclass
class _Sorted:
    beats: dict[str, NodeHealth] = field(default_factory=dict)
    statuses: list[NodeStatus] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    doors: list[DoorDecision] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)
    states: dict[str, StationState] = field(default_factory=dict)
    nodes: set[str] = field(default_factory=set)


def _oldest_age_s(decoded: list[tuple[str, Message]], now: datetime) -> float | None:
    """How long the oldest message of a batch took from its node to the database."""
    stamps = [ts for _, m in decoded if isinstance(ts := getattr(m, "ts", None), datetime)]
    return max(0.0, (now - min(stamps)).total_seconds()) if stamps else None


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
        snapshots: SnapshotStorage | None = None,
        reopen_window: timedelta = DEFAULT_REOPEN_WINDOW,
        limits: HealthLimits = DEFAULT_LIMITS,
        on_batch: BatchObserver = lambda _size, _seconds, _lag: None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._directory = directory
        self._on_feed_change = on_feed_change
        self._on_opened = on_opened
        self._snapshots = snapshots or SnapshotStore(Path("var/snapshots"))
        self._reopen_window = reopen_window
        self._limits = limits
        self._on_batch = on_batch
        self.stats = IngestStats()

    def process(self, batch: list[Inbound]) -> None:
        """Validate and persist a batch; refused messages are logged and dropped."""
        snapshots = [m for m in batch if "/snapshot/" in m.topic]
        if snapshots:
            self._store_snapshots(snapshots)
            batch = [m for m in batch if "/snapshot/" not in m.topic]
        started = time.perf_counter()
        decoded = self._decode(batch)
        try:
            changed, opened = self._write(decoded)
        except IntegrityError:
            # Another replica wrote the same event or alert key first; re-read and re-apply.
            logger.info("concurrent write on a batch of %d; retrying", len(decoded))
            changed, opened = self._write(decoded)
        self.stats.batches += 1
        self.stats.last_batch_at = now = self._clock.now()
        self._on_batch(len(batch), time.perf_counter() - started, _oldest_age_s(decoded, now))
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
                self.stats.refuse("snapshot")
                logger.warning("refused snapshot on %s: %s", item.topic, err)
            except UnavailableError as err:
                # The event itself must still be recorded and escalated: a snapshot store
                # that is down costs the picture, never the alert.
                self.stats.refuse("snapshot_store")
                logger.error("snapshot on %s not stored: %s", item.topic, err)

    def _decode(self, batch: list[Inbound]) -> list[tuple[str, Message]]:
        decoded: list[tuple[str, Message]] = []
        for item in batch:
            self.stats.received += 1
            try:
                decoded.append(decode_for_topic(item.topic, item.payload))
            except ContractError as err:
                self.stats.refuse("invalid")
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
            apply_health_checks(book, stations, work.beats, self._limits, now)
            self._apply_events(session, book, stations, work.events)
            for visit in work.visits:
                apply_visit(session, stations[visit.node_id], visit)
            apply_door_decisions(session, stations, work.doors)
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
            elif isinstance(message, DoorDecision):
                work.doors.append(message)
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
        if unknown:
            self.stats.refuse("unknown_node", len(unknown))
        return len(unknown)

    @staticmethod
    def _apply_events(
        session: Session, book: AlertBook, stations: dict[str, str], events: list[Event]
    ) -> None:
        if not events:
            return
        ids = {e.event_id for e in events}
        known = {
            r.id: r for r in session.exec(select(EventRecord).where(col(EventRecord.id).in_(ids)))
        }
        firsts: dict[AlertKey, tuple[datetime, str]] = {}
        for e in events:
            kind = e.kind.value
            if kind not in OCCUPANCY_KINDS and e.event_id not in known:
                key = (stations[e.node_id], kind, alert_zone(kind, e.zone))
                firsts.setdefault(key, (e.started_at, event_severity(kind, e.severity)))
        book.lock(
            {
                (stations[e.node_id], e.kind.value, alert_zone(e.kind.value, e.zone))
                for e in events
                if e.kind.value not in OCCUPANCY_KINDS
            },
            reopen_from=min(e.started_at for e in events),
        )
        book.open_all(firsts)
        for event in events:
            known[event.event_id] = apply_event(
                book, stations[event.node_id], event, known.get(event.event_id)
            )
