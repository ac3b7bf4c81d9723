"""Escalation: the policy is copied onto an alert when it opens, and its steps run as
persistent APScheduler jobs until someone acknowledges.

Each step advances the level once: the job locks the alert row and checks how far escalation
has got, so a job that two replicas both pick up, or that runs again after a restart, is a
no-op. A step whose notices never went out (its replica died, or lost the database, between
advancing and paging) is retaken by a sweep once its lease lapses: a page may then go out
twice, but is never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select

from station.duty.alerting.alerts import SYSTEM_ACTOR, record_change
from station.duty.alerting.models import Alert, AlertPublic, AlertStatus, PhonePage
from station.duty.alerting.roster_models import EscalationPolicy, EscalationStep
from station.duty.alerting.rosters import on_duty
from station.duty.clock import Clock
from station.duty.fleet.models import Station

logger = logging.getLogger(__name__)

DEFAULT_STEPS = (EscalationStep(level=1, wait_s=300), EscalationStep(level=2, wait_s=600))
DEFAULT_REPEAT = 2
# Longer than one step's notices take with every retry (3 tries, 2 s then 4 s, per channel).
STEP_LEASE = timedelta(seconds=120)
# A step's job runs on time; this late, its job was lost (a failed write, say).
OVERDUE = timedelta(seconds=10)


class StepScheduler(Protocol):
    """Runs `run_step(alert_id, step)` at a given time, surviving restarts."""

    def schedule(self, alert_id: int, step: int, run_at: datetime) -> None:
        """Arrange for the step to run at `run_at`."""
        ...


class Pager(Protocol):
    """Tells people about an alert: webhooks, SMS, the console."""

    def page(self, alert: AlertPublic, usernames: list[str], level: int) -> None:
        """Send the notices of one escalation step."""
        ...


class LogPager:
    """A pager that only logs; the feed entry of each step already reaches the console."""

    def page(self, alert: AlertPublic, usernames: list[str], level: int) -> None:
        """Log who would be told."""
        logger.info("alert %s level %d: paging %s", alert.id, level, ", ".join(usernames))


def policy_for(session: Session, region: str) -> tuple[list[dict[str, Any]], int]:
    """Return (steps, repeat) of the region's policy, the default one, or the built-in."""
    for wanted in (region, ""):
        policy = session.exec(
            select(EscalationPolicy).where(EscalationPolicy.region == wanted)
        ).first()
        if policy is not None:
            return policy.steps, policy.repeat
    return [s.model_dump() for s in DEFAULT_STEPS], DEFAULT_REPEAT


class EscalationService:
    """Starts escalation for opened alerts and runs its steps."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        scheduler: StepScheduler,
        pager: Pager,
        on_step: Callable[[int], None] = lambda _level: None,
    ):
        self._engine = engine
        self._clock = clock
        self._scheduler = scheduler
        self._pager = pager
        self._on_step = on_step  # told the level of each step run, for the metrics

    def start(self, alert_ids: list[int]) -> None:
        """Copy the policy onto each newly opened alert and run its first step now."""
        now = self._clock.now()
        for alert_id in alert_ids:
            with Session(self._engine) as session:
                alert = session.get(Alert, alert_id, with_for_update=True)
                # Started already: by the fast path, by the sweep, or by another replica.
                if alert is None or alert.escalation_policy is not None:
                    continue
                region = _region(session, alert.station_id)
                steps, repeat = policy_for(session, region)
                alert.escalation_policy = [*steps, {"repeat": repeat}]
                alert.next_step_at = now
                session.add(alert)
                session.commit()
            self._scheduler.schedule(alert_id, 0, now)

    def run_step(self, alert_id: int, step: int) -> None:
        """Run one step unless the alert was answered, snoozed, or the step already ran;
        resume a step whose notices never went out (its replica died or lost the database)."""
        now = self._clock.now()
        claimed = self._claim(alert_id, step, now)
        if claimed is None:
            return
        public, people, current, page_started = claimed
        if not people:
            logger.error("alert %s level %d: nobody on duty", alert_id, current.level)
        due = now + timedelta(seconds=current.wait_s)
        try:
            self._scheduler.schedule(alert_id, step + 1, due)
            if page_started:
                # Its phone page was stored before the failure; page fail-over moves it on.
                logger.warning("alert %s step %d: page already started", alert_id, step)
            else:
                self._on_step(current.level)
                self._pager.page(public, people, current.level)
        except SQLAlchemyError:
            self._release(alert_id, step, now)
            raise
        self._mark_paged(alert_id, step, due)

    def resume_stalled(self) -> int:
        """Run every step that is overdue (its job was lost) or stalled half-way; return how
        many. Running a step twice is harmless: the row lock and the checks make it a no-op."""
        with Session(self._engine) as session:
            found = stalled(session, self._clock.now() - OVERDUE)
        for alert_id, step in found:
            logger.warning("alert %s: escalation step %d overdue, resuming", alert_id, step)
            self.run_step(alert_id, step)
        return len(found)

    def _claim(
        self, alert_id: int, step: int, now: datetime
    ) -> tuple[AlertPublic, list[str], EscalationStep, bool] | None:
        """Advance the level (or retake a stalled step) and hold the step for STEP_LEASE;
        also say whether a retaken step had already stored its phone page."""
        with Session(self._engine) as session:
            alert = session.get(Alert, alert_id, with_for_update=True)
            if alert is None or alert.status is not AlertStatus.OPEN or alert.suppressed:
                return None
            resuming = _stalled_at(alert, step, now)
            if not resuming and alert.escalation_level != step:
                return None
            if alert.snoozed_until and alert.snoozed_until > now:
                alert.next_step_at = alert.snoozed_until
                session.commit()
                self._scheduler.schedule(alert_id, step, alert.snoozed_until)
                return None
            steps, repeat = _copied_policy(alert)
            if step >= len(steps) * (repeat + 1):
                logger.warning("alert %s: escalation exhausted without acknowledgement", alert_id)
                alert.next_step_at = None
                session.commit()
                return None
            current = steps[step % len(steps)]
            people = on_duty(session, _region(session, alert.station_id), current.level, now)
            started = resuming and _page_stored(session, alert_id, steps, step)
            if not resuming:
                alert.escalation_level = step + 1
                note = ", ".join(people) or "nobody on duty at this level"
                record_change(session, alert, f"escalated:{current.level}", SYSTEM_ACTOR, note)
            alert.next_step_at = now + STEP_LEASE
            session.add(alert)
            # Read before the commit: after it, reading would need the connection again.
            public = AlertPublic.model_validate(alert)
            session.commit()
        return public, people, current, started

    def _mark_paged(self, alert_id: int, step: int, due: datetime) -> None:
        with Session(self._engine) as session:
            alert = session.get(Alert, alert_id, with_for_update=True)
            if alert is not None and alert.paged_steps <= step:
                alert.paged_steps = step + 1
                alert.next_step_at = due
                session.commit()

    def _release(self, alert_id: int, step: int, now: datetime) -> None:
        """Let the sweep retake a step that failed half-way without waiting out its lease."""
        try:
            with Session(self._engine) as session:
                alert = session.get(Alert, alert_id, with_for_update=True)
                if alert is not None and alert.paged_steps == step:
                    alert.next_step_at = now
                    session.commit()
        except SQLAlchemyError as err:
            logger.warning("alert %s: step %d leased until it lapses: %s", alert_id, step, err)


def unescalated(session: Session) -> list[int]:
    """Open alerts whose escalation never started (e.g. cloud-duty stopped right after)."""
    rows = session.exec(
        select(Alert.id).where(
            Alert.status == AlertStatus.OPEN,
            col(Alert.suppressed).is_(False),
            col(Alert.escalation_policy).is_(None),
            Alert.severity != "info",
        )
    ).all()
    return [r for r in rows if r is not None]


def stalled(session: Session, before: datetime) -> list[tuple[int, int]]:
    """(alert id, step) of open alerts whose step was due, or leased, before `before`."""
    rows = session.exec(
        select(Alert.id, Alert.escalation_level, Alert.paged_steps).where(
            Alert.status == AlertStatus.OPEN,
            col(Alert.suppressed).is_(False),
            col(Alert.escalation_policy).is_not(None),
            col(Alert.next_step_at) < before,
        )
    ).all()
    # A level ahead of the pages is a step that advanced but never sent its notices.
    return [(i, level - 1 if level > paged else level) for i, level, paged in rows if i]


def _page_stored(session: Session, alert_id: int, steps: list[EscalationStep], step: int) -> bool:
    """Whether `step` stored its phone page: the alert has more pages at the step's level than
    the earlier steps at that level made."""
    level = steps[step % len(steps)].level
    earlier = sum(1 for t in range(step) if steps[t % len(steps)].level == level)
    stored = session.exec(
        select(func.count())
        .select_from(PhonePage)
        .where(PhonePage.alert_id == alert_id, PhonePage.level == level)
    ).one()
    return stored > earlier


def _stalled_at(alert: Alert, step: int, now: datetime) -> bool:
    """Whether `step` advanced the level but its notices never went out, and its lease lapsed."""
    lapsed = alert.next_step_at is not None and alert.next_step_at <= now
    return lapsed and alert.escalation_level == step + 1 and alert.paged_steps == step


def _copied_policy(alert: Alert) -> tuple[list[EscalationStep], int]:
    raw = alert.escalation_policy or [s.model_dump() for s in DEFAULT_STEPS]
    repeat = next((int(r["repeat"]) for r in raw if "repeat" in r), DEFAULT_REPEAT)
    return [EscalationStep.model_validate(r) for r in raw if "repeat" not in r], repeat


def _region(session: Session, station_id: str) -> str:
    station = session.get(Station, station_id)
    return station.region if station else ""


class SharedJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """A job table several replicas' schedulers read; a job another one already ran and
    removed is simply gone, not an error that would stop this replica's scheduler."""

    def remove_job(self, job_id: str) -> None:
        """Remove the job if it is still there."""
        try:
            super().remove_job(job_id)
        except JobLookupError:
            logger.debug("job %s was already removed by another replica", job_id)

    def get_next_run_time(self) -> datetime | None:
        """The earliest due time; after a lost database connection, now (so it looks again).

        APScheduler 3 does not guard this call: an error here would end the scheduler's thread,
        and with it every escalation of this replica.
        """
        try:
            found: datetime | None = super().get_next_run_time()
        except SQLAlchemyError as err:
            logger.warning("job store unreadable, retrying: %s", err)
            return datetime.now(UTC) + _JOBSTORE_RETRY
        return found


_JOBSTORE_RETRY = timedelta(seconds=2)
_ESCALATION_BY_DATABASE: dict[str, EscalationService] = {}


def run_escalation_step(database: str, alert_id: int, step: int) -> None:
    """APScheduler job entry point: jobs persist this name and plain arguments only."""
    service = _ESCALATION_BY_DATABASE.get(database)
    if service is None:
        logger.error(
            "no escalation service for %s; step %d of alert %d skipped", database, step, alert_id
        )
        return
    try:
        service.run_step(alert_id, step)
    except SQLAlchemyError as err:
        # The alert row says how far the step got; the sweep resumes it once it is overdue.
        logger.warning("alert %d step %d: database lost, resumed later: %s", alert_id, step, err)


class JobStoreScheduler:
    """A StepScheduler on APScheduler with a database job store shared by the replicas."""

    def __init__(self, scheduler: BaseScheduler, database: str, jobstore: str = "durable") -> None:
        self._scheduler = scheduler
        self._database = database
        self._jobstore = jobstore

    def bind(self, service: EscalationService) -> None:
        """Make this process run the steps of jobs found in the store."""
        _ESCALATION_BY_DATABASE[self._database] = service

    def schedule(self, alert_id: int, step: int, run_at: datetime) -> None:
        """Store a one-off job; a late one still runs (misfire grace is unlimited)."""
        self._scheduler.add_job(
            run_escalation_step,
            "date",
            run_date=run_at,
            args=[self._database, alert_id, step],
            id=f"escalate-{alert_id}-{step}",
            jobstore=self._jobstore,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )
