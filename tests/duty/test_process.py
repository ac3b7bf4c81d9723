"""`station duty` as systemd runs it: SIGTERM stops it promptly even with a console's live
feed open (uvicorn ends by re-raising the signal, which systemd counts as a clean stop)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bench.alert_latency import TOKEN, start_duty
from station.duty.scheduler import StoppingThreadPool
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import wait_until

pytestmark = pytest.mark.integration


def _hold_feed(url: str, opened: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with (
            httpx.Client(headers=headers, timeout=httpx.Timeout(10, read=None)) as http,
            http.stream("GET", f"{url}/api/v1/alerts/feed") as response,
        ):
            opened.set()
            for _ in response.iter_lines():
                pass
    except httpx.HTTPError:
        return  # the server going away ends the stream


def test_sigterm_stops_cloud_duty_with_a_feed_open(tmp_path: Path, broker: MosquittoBroker) -> None:
    db_url = f"sqlite:///{tmp_path / 'duty.db'}"
    proc, url = start_duty(db_url, broker.port, tmp_path, [f"UWS_KEY_FILE={tmp_path}/keys.json"])
    try:
        opened = threading.Event()
        threading.Thread(target=_hold_feed, args=(url, opened), daemon=True).start()
        assert opened.wait(15), "the feed did not open"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
        assert "Scheduler has been shut down" in (tmp_path / "duty.log").read_text()
    finally:
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
