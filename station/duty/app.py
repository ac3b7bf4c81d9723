"""cloud-duty application factory: the lifespan starts ingest and the scheduler."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine
from sqlmodel import Session

from station.duty.alerting.deliveries import DeliveryService
from station.duty.alerting.escalation import LogPager, Pager
from station.duty.alerting.feed_signal import FeedSignal
from station.duty.alerting.live_feed import FeedHub
from station.duty.alerting.notifiers import build_notifiers
from station.duty.alerting.pages import PageService, PhoneChannels
from station.duty.alerting.paging import NotifyingPager
from station.duty.alerting.snapshot_s3 import S3SnapshotStorage, make_s3_client
from station.duty.alerting.snapshots import (
    DatabaseSnapshots,
    SnapshotStorage,
    SnapshotStore,
    parse_store_url,
)
from station.duty.api.access import PUBLIC, declare_access
from station.duty.api.handlers import install_error_handler
from station.duty.api.health import router as health_router
from station.duty.api.router import api_router
from station.duty.clock import Clock, SystemClock
from station.duty.db import is_postgres, make_engine, migrate
from station.duty.fleet.ingest import IngestPipeline, IngestStats
from station.duty.fleet.node_health import HealthLimits
from station.duty.fleet.node_link import MqttIngest
from station.duty.fleet.registry import NodeDirectory
from station.duty.jobs import DURABLE_STORE, escalate_soon, start_scheduler
from station.duty.metrics import DutyMetrics
from station.duty.people.auth import ensure_admin
from station.duty.people.keys import KeyRing, load_keys
from station.duty.people.models import EntryKey
from station.duty.scheduler import RunningJobs, stop_scheduler
from station.duty.services import Services, services_of
from station.duty.settings import DutySettings
from station.i18n import Language, catalogue

logger = logging.getLogger(__name__)

CONSOLE_PAGE = Path(__file__).parent / "static" / "console.html"


@cache
def console_page() -> str:
    """The console's HTML with the translations it needs filled in (read once)."""
    catalogues = {language.value: catalogue(language) for language in Language}
    # Inside a <script>: no "</" may close it early.
    text = json.dumps(catalogues, ensure_ascii=False).replace("</", "<\\/")
    return CONSOLE_PAGE.read_text().replace("/*I18N*/{}", text)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    services = services_of(app)
    settings = services.settings
    migrate(services.engine)
    with Session(services.engine) as session:
        ensure_admin(session, settings.admin_username, settings.admin_password.get_secret_value())
        if session.get(EntryKey, 1) is not None:
            logger.warning(
                "the database still holds the old signing and phone-hash keys: move them to "
                "the key file with `station keys import-legacy --file %s`",
                settings.key_file,
            )
    ingest = MqttIngest(settings, services.pipeline) if settings.start_ingest else None
    if ingest is not None:
        ingest.start()
        services.metrics.ingest.connected = ingest.connected.is_set
        services.metrics.ingest.backlog = ingest.backlog
    services.ingest = ingest
    signal = FeedSignal(services.engine, services.hub) if is_postgres(services.engine) else None
    if signal is not None:
        signal.start()
    scheduler = start_scheduler(services) if settings.start_scheduler else None
    running = RunningJobs(scheduler) if scheduler is not None else None
    logger.info("cloud-duty ready (%s)", services.engine.url.render_as_string())
    try:
        yield
    finally:
        # Ingest first: a batch it writes may start an escalation, which needs the scheduler.
        if ingest is not None:
            ingest.stop()
        if scheduler is not None and running is not None:
            stop_scheduler(scheduler, running, durable=[DURABLE_STORE])
        if signal is not None:
            signal.stop()
        services.engine.dispose()


def _pager(
    settings: DutySettings, engine: Engine, clock: Clock, metrics: DutyMetrics
) -> tuple[Pager, PageService | None]:
    """Page through the configured channels, or only log when none is configured."""
    if not settings.notifiers:
        return LogPager(), None
    delivery = DeliveryService(
        engine,
        build_notifiers(settings.notifiers, clock),
        clock,
        policy=settings.delivery_retry,
        on_attempt=metrics.delivered,
    )
    kinds = {name: channel.kind for name, channel in settings.notifiers.items()}
    webhooks = [n for n, kind in kinds.items() if kind not in ("sms", "voice")]
    phones = PhoneChannels(
        sms=next((n for n, kind in kinds.items() if kind == "sms"), None),
        voice=next((n for n, kind in kinds.items() if kind == "voice"), None),
    )
    pages = None
    if phones.names():
        pages = PageService(
            engine, delivery, clock, phones, settings.page_confirm_s, settings.console_url
        )
    pager = NotifyingPager(
        engine,
        delivery,
        webhooks,
        pages,
        settings.console_url,
        phones.names(),
        group_language=settings.group_language,
    )
    return pager, pages


def snapshot_storage(
    settings: DutySettings, engine: Engine, clock: Clock | None = None
) -> SnapshotStorage:
    """The object store when one is set, else the database where replicas share one
    (PostgreSQL), else the local folder."""
    where = settings.snapshot_storage
    if where == "auto":
        if settings.snapshot_store_url is not None:
            where = "s3"
        else:
            where = "folder" if settings.database_url.startswith("sqlite") else "database"
    if where == "s3":
        return _s3_snapshots(settings, clock)
    return (
        DatabaseSnapshots(engine)
        if where == "database"
        else SnapshotStore(Path(settings.snapshot_dir))
    )


def _s3_snapshots(settings: DutySettings, clock: Clock | None) -> S3SnapshotStorage:
    """The S3-compatible store the settings name (their validation checked the URL)."""
    assert settings.snapshot_store_url is not None
    secret = settings.snapshot_store_secret_access_key
    client = make_s3_client(
        settings.snapshot_store_endpoint_url,
        settings.snapshot_store_region,
        settings.snapshot_store_access_key_id,
        secret.get_secret_value() if secret is not None else None,
        settings.snapshot_store_addressing_style,
        settings.snapshot_store_timeout_s,
    )
    location = parse_store_url(settings.snapshot_store_url)
    logger.info("snapshots go to s3://%s/%s", location.bucket, location.prefix)
    return S3SnapshotStorage(client, location, clock)


def keys_of(settings: DutySettings) -> KeyRing:
    """The signing and phone-hash keys, from the environment or the key file."""
    production = settings.environment == "production"
    return load_keys(
        Path(settings.key_file),
        settings.signing_keys.get_secret_value() if settings.signing_keys else None,
        settings.phone_hash_keys.get_secret_value() if settings.phone_hash_keys else None,
        create=not production,
        strict=production,
    )


def build_services(settings: DutySettings, clock: Clock, pager: Pager | None) -> Services:
    """Make the services of one replica; nothing connects yet."""
    engine = make_engine(settings.database_url)
    hub = FeedHub()
    directory = NodeDirectory(settings.unknown_node_cache_s)
    snapshots = snapshot_storage(settings, engine, clock)
    metrics = DutyMetrics(engine, hub, IngestStats())
    pages = None
    if pager is None:
        pager, pages = _pager(settings, engine, clock, metrics)
    pipeline = IngestPipeline(
        engine,
        clock,
        directory,
        hub.notify,
        # Bound late: the container the callback needs is made just below.
        lambda opened: escalate_soon(services, opened),
        snapshots,
        timedelta(seconds=settings.reopen_window_s),
        HealthLimits(
            settings.camera_silent_s, settings.inference_budget_ms, settings.disk_full_percent
        ),
        metrics.batch,
    )
    metrics.ingest.stats = pipeline.stats
    services = Services(
        settings=settings,
        clock=clock,
        engine=engine,
        hub=hub,
        directory=directory,
        pager=pager,
        pages=pages,
        snapshots=snapshots,
        pipeline=pipeline,
        keys=keys_of(settings),
        metrics=metrics,
    )
    return services


def create_app(
    settings: DutySettings | None = None, clock: Clock | None = None, pager: Pager | None = None
) -> FastAPI:
    """Build the cloud-duty app; nothing connects until the lifespan starts."""
    services = build_services(settings or DutySettings(), clock or SystemClock(), pager)
    app = FastAPI(title="worker-station cloud-duty", version="0.1.0", lifespan=_lifespan)
    app.state.services = services
    install_error_handler(app)
    app.include_router(api_router)
    declare_access(health_router.routes)
    app.include_router(health_router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False, dependencies=[PUBLIC])
    def console() -> str:
        """The duty console page, with its catalogues."""
        return console_page()

    declare_access(app.router.routes)
    return app
