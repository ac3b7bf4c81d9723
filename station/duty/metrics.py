"""Prometheus metrics of one cloud-duty replica: what it counts itself, and on each scrape
what its ingest, live feed and the database say now."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from station.duty.alerting.live_feed import FeedHub
from station.duty.alerting.models import Alert, AlertStatus
from station.duty.fleet.ingest import IngestStats

# A batch of 500 messages writes in tens of ms on PostgreSQL; seconds mean trouble.
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Node to database: well under a second when all is well, minutes after an outage.
_LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


@dataclass
class IngestView:
    """What the scrape reads of this replica's ingest (set once the lifespan starts it)."""

    stats: IngestStats
    connected: Callable[[], bool] = lambda: False
    backlog: Callable[[], int] = lambda: 0


class _Collector(Collector):
    """Figures read at scrape time, so they are never stale and cost nothing in between."""

    def __init__(self, engine: Engine, hub: FeedHub, ingest: IngestView) -> None:
        self._engine = engine
        self._hub = hub
        self._ingest = ingest

    def collect(self) -> Iterator[Metric]:
        stats = self._ingest.stats
        yield CounterMetricFamily(
            "uws_duty_ingest_received", "Messages received from nodes.", value=stats.received
        )
        yield CounterMetricFamily(
            "uws_duty_ingest_persisted", "Messages written to the database.", value=stats.persisted
        )
        refused = CounterMetricFamily(
            "uws_duty_ingest_refused", "Messages refused, by reason.", labels=["reason"]
        )
        for reason, count in sorted(stats.refused.items()):
            refused.add_metric([reason], count)
        yield refused
        yield GaugeMetricFamily(
            "uws_duty_ingest_backlog",
            "Messages received and not yet written.",
            value=self._ingest.backlog(),
        )
        yield GaugeMetricFamily(
            "uws_duty_broker_connected",
            "1 while ingest is connected to the broker.",
            value=1.0 if self._ingest.connected() else 0.0,
        )
        yield GaugeMetricFamily(
            "uws_duty_sse_clients",
            "Live feed streams open on this replica.",
            value=self._hub.clients,
        )
        yield self._open_alerts()

    def _open_alerts(self) -> Metric:
        family = GaugeMetricFamily(
            "uws_duty_open_alerts",
            "Unresolved alerts in the database (the same on every replica).",
            labels=["kind", "severity"],
        )
        with Session(self._engine) as session:
            rows = session.exec(
                select(Alert.kind, Alert.severity, func.count())
                .where(col(Alert.status) != AlertStatus.RESOLVED)
                .group_by(col(Alert.kind), col(Alert.severity))
            ).all()
        for kind, severity, count in rows:
            family.add_metric([kind, severity], count)
        return family


class DutyMetrics:
    """The registry of one replica; its own, so two apps in one process never mix figures."""

    def __init__(self, engine: Engine, hub: FeedHub, stats: IngestStats) -> None:
        """Count what this replica does, and read the rest at scrape time."""
        self.registry = CollectorRegistry()
        self.ingest = IngestView(stats)
        self.batch_seconds = Histogram(
            "uws_duty_ingest_batch_seconds",
            "Time to validate and write one batch.",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.lag_seconds = Histogram(
            "uws_duty_ingest_lag_seconds",
            "Age of a batch's oldest message when written: node to database.",
            buckets=_LAG_BUCKETS,
            registry=self.registry,
        )
        self.batch_messages = Counter(
            "uws_duty_ingest_batches", "Batches written.", registry=self.registry
        )
        self.escalation_steps = Counter(
            "uws_duty_escalation_steps",
            "Escalation steps run, by level.",
            ["level"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "uws_duty_deliveries",
            "Notice delivery attempts, by channel and result.",
            ["channel", "result"],
            registry=self.registry,
        )
        self.deadman_pages = Counter(
            "uws_duty_deadman_pages",
            "Pages sent because this replica's ingest went silent.",
            registry=self.registry,
        )
        self.registry.register(_Collector(engine, hub, self.ingest))

    def batch(self, size: int, seconds: float, lag_s: float | None) -> None:
        """Note one ingest batch written."""
        del size  # the received counter already counts messages
        self.batch_messages.inc()
        self.batch_seconds.observe(seconds)
        if lag_s is not None:
            self.lag_seconds.observe(lag_s)

    def escalated(self, level: int) -> None:
        """Note one escalation step run."""
        self.escalation_steps.labels(str(level)).inc()

    def delivered(self, channel: str, ok: bool) -> None:
        """Note one delivery attempt."""
        self.deliveries.labels(channel, "ok" if ok else "failed").inc()
