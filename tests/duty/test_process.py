"""`station duty` as systemd runs it: SIGTERM stops it promptly even with a console's live
feed open (uvicorn ends by re-raising the signal, which systemd counts as a clean stop)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bench.alert_latency import start_duty
from station.duty.scheduler import StoppingThreadPool
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import TOKEN, FeedReader, wait_until

pytestmark = pytest.mark.integration


def test_sigterm_stops_cloud_duty_with_a_feed_open(tmp_path: Path, broker: MosquittoBroker) -> None:
    db_url = f"sqlite:///{tmp_path / 'duty.db'}"
    # The tests' service token, the one FeedReader signs in with.
    settings = [f"UWS_KEY_FILE={tmp_path}/keys.json", f"UWS_API_TOKEN={TOKEN}"]
    proc, url = start_duty(db_url, broker.port, tmp_path, settings)
    feed = FeedReader(url)
    try:
        feed.start()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
        assert "Scheduler has been shut down" in (tmp_path / "duty.log").read_text()
    finally:
        feed.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_stop_finishes_the_running_job_and_drops_the_queued_ones() -> None:
    started, release = threading.Event(), threading.Event()
    ran: list[int] = []

    def job(n: int) -> None:
        started.set()
        release.wait(10)
        ran.append(n)

    scheduler = BackgroundScheduler(
        timezone="UTC", executors={"default": StoppingThreadPool(max_workers=1)}
    )
    for n in range(20):
        scheduler.add_job(job, args=[n], misfire_grace_time=None)
    scheduler.start()
    assert started.wait(10)
    # Every job handed to the pool: APScheduler's own thread is done with its store.
    wait_until(lambda: not scheduler.get_jobs(), 10, "jobs handed to the pool")
    threading.Timer(0.2, release.set).start()
    scheduler.shutdown(wait=True)
    assert len(ran) == 1  # the running one finished; the backlog did not hold the stop
