"""Scheduled jobs of a replica: the offline check, escalation start-up, and retention."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import Session

from station.duty.alerting.alert_book import AlertBook
from station.duty.alerting.escalation import (
    EscalationService,
    JobStoreScheduler,
    SharedJobStore,
    unescalated,
)
from station.duty.alerting.notifiers import build_notifiers
from station.duty.fleet.deadman import DeadMansSwitch, notifier_pager, registered_nodes
from station.duty.fleet.liveness import mark_silent_nodes_offline
from station.duty.reports.retention import RetentionPolicy, RetentionReport, run_retention
from station.duty.scheduler import StoppingThreadPool
from station.duty.services import Services

DURABLE_STORE = "durable"  # the job store backed by the database, shared by the replicas


def check_liveness(services: Services, silence: timedelta) -> list[str]:
    """Mark nodes offline that missed their heartbeats; return their ids."""
    with Session(services.engine) as session:
        book = AlertBook(session)
        offline = mark_silent_nodes_offline(session, book, services.clock.now(), silence)
        session.commit()
    if offline:
        services.hub.notify()
        escalate_soon(services, book.opened)
    return offline


def check_ingest_silence(services: Services, switch: DeadMansSwitch) -> bool:
    """Page the operators if this replica's ingest went silent with nodes registered."""
    if services.ingest is None:
        return False  # this replica consumes nothing: its silence means nothing
    nodes = registered_nodes(services.engine)
    paged = switch.check(services.clock.now(), services.pipeline.stats.last_batch_at, nodes)
    if paged:
        services.metrics.deadman_pages.inc()
    return paged


def dead_mans_switch(services: Services) -> DeadMansSwitch:
    """The switch of this replica, paging through its robot channels."""
    settings = services.settings
    robots = {n: c for n, c in settings.notifiers.items() if c.kind != "sms"}
    return DeadMansSwitch(
        silence=timedelta(minutes=settings.deadman_silence_min),
        page=notifier_pager(build_notifiers(robots, services.clock), settings.console_url),
        started_at=services.clock.now(),
    )


def apply_retention(services: Services) -> RetentionReport:
    """Delete or anonymise what is past its retention period, as the settings say."""
    settings = services.settings
    policy = RetentionPolicy(
        snapshot_days=settings.snapshot_retention_days,
        visit_days=settings.visit_retention_days,
        record_days=settings.record_retention_days,
        audit_days=settings.audit_retention_days,
    )
    return run_retention(services.engine, services.snapshots, services.clock.now(), policy)


def escalate_soon(services: Services, opened: list[int]) -> None:
    """Hand newly opened alerts to the scheduler's threads, off the ingest path."""
    if services.escalation is not None and services.scheduler is not None and opened:
        services.scheduler.add_job(
            services.escalation.start, args=[opened], misfire_grace_time=None
        )


def start_pending_escalations(services: Services) -> None:
    """Safety net: start escalation for open alerts that never got it, and resume steps that
    stalled (a crash or a lost database connection between advancing and paging)."""
    if services.escalation is None:
        return
    with Session(services.engine) as session:
        pending = unescalated(session)
    if pending:
        services.escalation.start(pending)
    services.escalation.resume_stalled()


def fail_over_pages(services: Services) -> int:
    """Move on the pages whose text or call went unconfirmed past the deadline."""
    return services.pages.fail_over_due() if services.pages is not None else 0


def start_scheduler(services: Services) -> BackgroundScheduler:
    """Start the scheduler with the escalation service and the periodic jobs."""
    engine = services.engine
    durable = SharedJobStore(engine=engine, tablename="apscheduler_jobs")
    scheduler = BackgroundScheduler(
        timezone="UTC",
        jobstores={"default": MemoryJobStore(), DURABLE_STORE: durable},
        executors={"default": StoppingThreadPool()},
    )
    steps = JobStoreScheduler(scheduler, engine.url.render_as_string(), DURABLE_STORE)
    escalation = EscalationService(
        engine, services.clock, steps, services.pager, services.metrics.escalated
    )
    steps.bind(escalation)
    services.escalation = escalation
    services.scheduler = scheduler
    _add_periodic_jobs(scheduler, services)
    scheduler.start()
    return scheduler


def _add_periodic_jobs(scheduler: BackgroundScheduler, services: Services) -> None:
    settings = services.settings
    silence = timedelta(seconds=settings.heartbeat_interval_s * settings.missed_heartbeats)
    once = {"max_instances": 1, "coalesce": True}
    scheduler.add_job(
        check_liveness,
        "interval",
        seconds=settings.liveness_check_s,
        args=[services, silence],
        id="liveness",
        **once,
    )
    scheduler.add_job(
        check_ingest_silence,
        "interval",
        seconds=settings.deadman_check_s,
        args=[services, dead_mans_switch(services)],
        id="dead-mans-switch",
        **once,
    )
    scheduler.add_job(
        start_pending_escalations,
        "interval",
        seconds=5,
        args=[services],
        id="pending-escalations",
        **once,
    )
    if services.pages is not None:
        scheduler.add_job(
            fail_over_pages,
            "interval",
            seconds=max(1.0, min(10.0, settings.page_confirm_s / 4)),
            args=[services],
            id="page-failover",
            **once,
        )
    scheduler.add_job(
        apply_retention,
        "interval",
        hours=6,
        next_run_time=services.clock.now(),
        args=[services],
        id="retention",
        **once,
    )
