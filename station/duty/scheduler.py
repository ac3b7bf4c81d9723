"""The replica's scheduler made to stop promptly: a thread pool that skips queued jobs on
stop, and a stop without the deadlock of APScheduler's shutdown(wait=True).

Escalation steps live on their alerts' rows (see alerting/escalation.py), so a job a stop
skips is not lost: the next sweep of any replica resumes it.

shutdown(wait=True) holds the scheduler's job-store lock while it joins the worker threads; a
job running then that schedules another (the sweep starting an escalation adds its first step)
waits for that same lock, forever. cloud-duty then never exits on SIGTERM, and the pool's
worker, joined again at interpreter exit, keeps any process that served the app alive.
Here the scheduler is paused instead, the jobs in flight finish (their new jobs still reach
the durable store), and only then is it shut down, without waiting. The durable stores are
detached first: once shut down, APScheduler 3 still looks for due jobs one last time, fails to
submit them and deletes them, which would lose an escalation step that fell due meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
    SchedulerEvent,
)
from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler

logger = logging.getLogger(__name__)

STOP_WAIT_S = 10.0


class StoppingThreadPool(ThreadPoolExecutor):  # type: ignore[misc]
    """APScheduler's thread pool, except that a stop skips the jobs still queued.

    The pool would otherwise run its whole backlog before the process may exit (systemd then
    kills it mid-job). Skipping is safe: every escalation step is on its alert's row and the
    sweep of the next replica to run resumes it.
    """

    def __init__(self, max_workers: int = 10) -> None:
        super().__init__(max_workers)
        self._stopping = threading.Event()

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        def run() -> list[JobExecutionEvent]:
            if self._stopping.is_set():
                return []
            events: list[JobExecutionEvent] = run_job(
                job, job._jobstore_alias, run_times, self._logger.name
            )
            return events

        def done(future: Future[list[JobExecutionEvent]]) -> None:
            error = future.exception()
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(run).add_done_callback(done)

    def shutdown(self, wait: bool = True) -> None:
        """Finish the running jobs (if `wait`); skip the queued ones."""
        self._stopping.set()
        self._pool.shutdown(wait)


class RunningJobs:
    """The scheduler's job runs in flight, counted from its own events."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        """Count the runs `scheduler` submits from now on."""
        # Keyed by run, not by job: a quick run's end may be told before its submission.
        self._runs: Counter[tuple[str, datetime]] = Counter()
        self._idle = threading.Condition()
        mask = EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
        scheduler.add_listener(self._on_event, mask)

    def _on_event(self, event: SchedulerEvent) -> None:
        with self._idle:
            if isinstance(event, JobSubmissionEvent):
                for at in event.scheduled_run_times:
                    self._runs[(event.job_id, at)] += 1
            elif isinstance(event, JobExecutionEvent):
                self._runs[(event.job_id, event.scheduled_run_time)] -= 1
            if not self._in_flight():
                self._idle.notify_all()

    def _in_flight(self) -> list[str]:
        return sorted({job_id for (job_id, _), runs in self._runs.items() if runs > 0})

    def wait_idle(self, timeout_s: float) -> list[str]:
        """Wait until no run is in flight; return the ids of jobs still running at the end."""
        with self._idle:
            self._idle.wait_for(lambda: not self._in_flight(), timeout_s)
            return self._in_flight()


def stop_scheduler(
    scheduler: BaseScheduler,
    running: RunningJobs,
    durable: Sequence[str] = (),
    timeout_s: float = STOP_WAIT_S,
) -> None:
    """Pause, let the runs in flight finish (up to `timeout_s`), detach the `durable` job
    stores (their jobs stay stored), drop the others' jobs, then shut down at once."""
    started = time.monotonic()
    scheduler.pause()
    left = running.wait_idle(timeout_s)
    if left:
        logger.warning("scheduler stopped with jobs still running: %s", ", ".join(left))
    for alias in durable:
        scheduler.remove_jobstore(alias)
    scheduler.remove_all_jobs()  # in memory only now: gone with the process anyway
    scheduler.shutdown(wait=False)
    logger.info("scheduler stopped in %.1f s", time.monotonic() - started)
