"""cloud-duty application factory: the lifespan starts ingest and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine
from sqlmodel import Session

from station.duty.alerts import AlertBook
from station.duty.api import api_router
from station.duty.auth import ensure_admin
from station.duty.clock import Clock, SystemClock
from station.duty.db import make_engine, migrate
from station.duty.delivery import DeliveryService
from station.duty.escalation import (
    EscalationService,
    JobStoreScheduler,
    LogPager,
    Pager,
    SharedJobStore,
    unescalated,
)
from station.duty.feed import FeedHub
from station.duty.ingest import IngestPipeline, MqttIngest
from station.duty.nodes import NodeDirectory, mark_silent_nodes_offline
from station.duty.notify import build_notifiers
from station.duty.paging import NotifyingPager
from station.duty.retention import run_retention
from station.duty.settings import DutySettings
from station.duty.snapshots import SnapshotStore

logger = logging.getLogger(__name__)

CONSOLE_PAGE = Path(__file__).parent / "static" / "console.html"


def check_liveness(app: FastAPI, silence: timedelta) -> list[str]:
    """Mark nodes offline that missed their heartbeats; return their ids."""
    with Session(app.state.engine) as session:
        book = AlertBook(session)
        offline = mark_silent_nodes_offline(session, book, app.state.clock.now(), silence)
        session.commit()
    if offline:
        app.state.hub.notify()
        _escalate(app, book.opened)
    return offline


def apply_retention(app: FastAPI) -> tuple[int, int]:
    """Delete old snapshots and anonymise old visits, as the settings say."""
    settings: DutySettings = app.state.settings
    return run_retention(
        app.state.engine,
        app.state.snapshots,
        app.state.clock.now(),
        settings.snapshot_retention_days,
        settings.visit_retention_days,
    )


def _start_scheduler(app: FastAPI, settings: DutySettings) -> BackgroundScheduler:
    durable = SharedJobStore(engine=app.state.engine, tablename="apscheduler_jobs")
    scheduler = BackgroundScheduler(
        timezone="UTC", jobstores={"default": MemoryJobStore(), "durable": durable}
    )
    steps = JobStoreScheduler(scheduler, app.state.engine.url.render_as_string())
    escalation = EscalationService(app.state.engine, app.state.clock, steps, app.state.pager)
    steps.bind(escalation)
    app.state.escalation = escalation
    silence = timedelta(seconds=settings.heartbeat_interval_s * settings.missed_heartbeats)
    scheduler.add_job(
        check_liveness,
        "interval",
        seconds=settings.liveness_check_s,
        args=[app, silence],
        id="liveness",
        max_instances=1,
        coalesce=True,
    )
    app.state.scheduler = scheduler
    scheduler.add_job(
        start_pending_escalations,
        "interval",
        seconds=5,
        args=[app],
        id="pending-escalations",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        apply_retention,
        "interval",
        hours=6,
        next_run_time=app.state.clock.now(),
        args=[app],
        id="retention",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: DutySettings = app.state.settings
    migrate(app.state.engine)
    with Session(app.state.engine) as session:
        ensure_admin(session, settings.admin_username, settings.admin_password.get_secret_value())
    ingest = MqttIngest(settings, app.state.pipeline) if settings.start_ingest else None
    if ingest is not None:
        ingest.start()
    app.state.ingest = ingest
    scheduler = _start_scheduler(app, settings) if settings.start_scheduler else None
    logger.info("cloud-duty ready (%s)", app.state.engine.url.render_as_string())
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        if ingest is not None:
            ingest.stop()
        app.state.engine.dispose()


def _escalate(app: FastAPI, opened: list[int]) -> None:
    """Hand newly opened alerts to the scheduler's threads, off the ingest path."""
    escalation: EscalationService | None = app.state.escalation
    if escalation is not None and opened:
        app.state.scheduler.add_job(escalation.start, args=[opened], misfire_grace_time=None)


def start_pending_escalations(app: FastAPI) -> None:
    """Safety net: start escalation for open alerts that never got it (a crash, say)."""
    with Session(app.state.engine) as session:
        pending = unescalated(session)
    if pending:
        app.state.escalation.start(pending)


def _pager(settings: DutySettings, engine: Engine, clock: Clock) -> Pager:
    """Page through the configured channels, or only log when none is configured."""
    if not settings.notifiers:
        return LogPager()
    delivery = DeliveryService(
        engine, build_notifiers(settings.notifiers, clock), clock, policy=settings.delivery_retry
    )
    webhooks = [n for n, c in settings.notifiers.items() if c.kind != "sms"]
    sms = next((n for n, c in settings.notifiers.items() if c.kind == "sms"), None)
    return NotifyingPager(engine, delivery, webhooks, sms, settings.console_url)


def create_app(
    settings: DutySettings | None = None, clock: Clock | None = None, pager: Pager | None = None
) -> FastAPI:
    """Build the cloud-duty app; nothing connects until the lifespan starts."""
    settings = settings or DutySettings()
    app = FastAPI(title="worker-station cloud-duty", version="0.1.0", lifespan=_lifespan)
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.engine = make_engine(settings.database_url)
    app.state.hub = FeedHub()
    app.state.directory = NodeDirectory(settings.unknown_node_cache_s)
    app.state.pager = pager or _pager(settings, app.state.engine, app.state.clock)
    app.state.snapshots = SnapshotStore(Path(settings.snapshot_dir))
    app.state.escalation = None
    app.state.pipeline = IngestPipeline(
        app.state.engine,
        app.state.clock,
        app.state.directory,
        app.state.hub.notify,
        partial(_escalate, app),
        app.state.snapshots,
        timedelta(seconds=settings.reopen_window_s),
    )
    app.include_router(api_router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def console() -> str:
        return CONSOLE_PAGE.read_text()

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, object]:
        """Liveness of this replica and its ingest counters."""
        ingest: MqttIngest | None = app.state.ingest
        stats = app.state.pipeline.stats
        return {
            "ok": True,
            "broker_connected": bool(ingest and ingest.connected.is_set()),
            "received": stats.received,
            "persisted": stats.persisted,
            "rejected": stats.rejected,
        }

    return app
