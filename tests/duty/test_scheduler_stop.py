"""cloud-duty's scheduler stops while a job is scheduling another: no deadlock, nothing lost."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from station.duty.scheduler import RunningJobs, stop_scheduler
from tests.support.duty_server import wait_until

LATER = datetime(2100, 1, 1, tzinfo=UTC)


def _noop() -> None:
    """A stored escalation step (never run in the test)."""


def test_a_job_that_schedules_another_during_the_stop_neither_hangs_nor_loses_it(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    durable = SQLAlchemyJobStore(url=url)
    scheduler = BackgroundScheduler(
        timezone="UTC", jobstores={"default": MemoryJobStore(), "durable": durable}
    )
    scheduler.start()
    running = RunningJobs(scheduler)
    inside, release = threading.Event(), threading.Event()

    def escalate() -> None:
        # Like the sweep starting an escalation: it adds the first step while it runs.
        inside.set()
        release.wait(30)
        scheduler.add_job(_noop, "date", run_date=LATER, id="escalate-1-0", jobstore="durable")

    scheduler.add_job(escalate, "date", run_date=datetime.now(UTC) + timedelta(milliseconds=50))
    assert inside.wait(10)
    wait_until(lambda: running.wait_idle(0), 10, "the run counted")
    # A step that falls due while the stop waits: it must stay stored for the next start.
    due = datetime.now(UTC) + timedelta(milliseconds=300)
    scheduler.add_job(_noop, "date", run_date=due, id="escalate-2-1", jobstore="durable")
    stopper = threading.Thread(target=stop_scheduler, args=(scheduler, running, ["durable"], 30))
    stopper.start()
    time.sleep(1)
    # The stop waits for the job in flight; the job adds its step, then the stop ends.
    release.set()
    stopper.join(30)
    assert not stopper.is_alive(), "the scheduler's stop deadlocked"
    assert not scheduler.running
    # Added while paused, so it reached the durable store, where a replica or the next start
    # finds it (a job added after the shutdown would only be kept in memory, then lost).
    stored = SQLAlchemyJobStore(url=url)
    stored.start(scheduler, "durable")
    assert sorted(job.id for job in stored.get_all_jobs()) == ["escalate-1-0", "escalate-2-1"]
    stored.shutdown()


def test_a_job_that_outlives_the_wait_is_left_running_and_named() -> None:
    scheduler = BackgroundScheduler(timezone="UTC", jobstores={"default": MemoryJobStore()})
    scheduler.start()
    running = RunningJobs(scheduler)
    inside, release = threading.Event(), threading.Event()

    def slow() -> None:
        inside.set()
        release.wait(30)

    later = datetime.now(UTC) + timedelta(milliseconds=50)
    scheduler.add_job(slow, "date", run_date=later, id="slow")
    assert inside.wait(10)
    wait_until(lambda: running.wait_idle(0), 10, "the run counted")
    try:
        stop_scheduler(scheduler, running, timeout_s=0.2)
        assert not scheduler.running
        assert running.wait_idle(0) == ["slow"]
    finally:
        release.set()
    assert running.wait_idle(10) == []
