"""The replica's scheduler: APScheduler 3's BackgroundScheduler, made to stop promptly.

Escalation steps live on their alerts' rows (see alerting/escalation.py), so a job a stop
skips is not lost: the next sweep of any replica resumes it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from apscheduler.events import JobExecutionEvent
from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler


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


class DutyScheduler(BackgroundScheduler):  # type: ignore[misc]
    """A BackgroundScheduler whose stop cannot deadlock.

    APScheduler 3 holds its job-store lock while it waits for the running jobs, and a running
    escalation step adds its next job under that lock: the stop then waits forever. This one
    pauses, lets the running jobs end with no lock held, then stops.
    """

    def __init__(self, pool: StoppingThreadPool, **options: Any) -> None:
        super().__init__(executors={"default": pool}, **options)
        self._pool = pool

    def shutdown(self, wait: bool = True) -> None:
        """Pause, finish the running jobs (if `wait`) and skip the queued ones, then stop."""
        if self.running:
            self.pause()
        self._pool.shutdown(wait)
        super().shutdown(wait=False)
