"""Dashboard page load on a year of visits for 50 stations (cloud-duty on PostgreSQL).

Seeds 50 stations x 365 days with `station seed`'s generator, then times the dashboard's
pages in Streamlit's AppTest (the script run that builds a page, HTTP calls included), cold
(cache cleared) and warm (cached), for a manager of five stations and for an admin of all
fifty. Beside it, in the same run: one station's year of statistics as the GROUP BY endpoint
computes it versus the baseline of paging every visit through /visits and counting in
Python. Prints JSON.

    .venv/bin/python bench/dashboard_load.py --stations 50 --days 365
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import streamlit as st
import uvicorn
from streamlit.testing.v1 import AppTest

from dashboard import data
from dashboard.models import User
from dashboard.settings import DashboardSettings
from devkit.localbroker import LocalBroker, free_port
from devkit.seed.options import SeedOptions
from devkit.seed.stations import seed
from station.contracts import utcnow
from station.duty.alerting.snapshots import SnapshotStore
from station.duty.app import create_app
from station.duty.db import make_engine
from station.duty.settings import DutySettings
from tests.support.database import fresh_database

TOKEN = "bench-dashboard-token-0123456789"
APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
ZONE = ZoneInfo("Asia/Shanghai")


def _wait(check: Callable[[], object], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("cloud-duty did not start")
        time.sleep(0.1)


def _page_s(
    token: str, user: dict[str, Any], page: str | None, *, cold: bool, period: str = ""
) -> float:
    """Seconds for one script run of a page; cold clears the cache first."""
    app = AppTest.from_file(APP, default_timeout=300)
    app.session_state["token"] = token
    app.session_state["user"] = User.model_validate(user)
    app.run()
    if page:
        app.switch_page(page).run()
    if period:
        app.selectbox[1].select(period).run()
    if cold:
        st.cache_data.clear()
    started = time.perf_counter()
    app.run()
    elapsed = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(app.exception[0].message)
    return elapsed


def _median(runs: int, fn: Callable[..., float], *args: Any, **kwargs: Any) -> float:
    return round(statistics.median(fn(*args, **kwargs) for _ in range(runs)), 3)


def _python_stats(http: httpx.Client, station_id: str, since: datetime, until: datetime) -> float:
    """The baseline: page every visit of the year and count hours, weekdays and stays."""
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | int] = {
            "station_id": station_id,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "limit": 500,
            "offset": len(rows),
        }
        page = http.get("/api/v1/visits", params=params).raise_for_status().json()
        rows += page["items"]
        if len(rows) >= page["total"]:
            break
    entered = [datetime.fromisoformat(r["entered_at"]).astimezone(ZONE) for r in rows]
    Counter(e.hour for e in entered)
    Counter(e.weekday() for e in entered)
    Counter(r["member_id"] for r in rows)
    return time.perf_counter() - started


def main() -> None:
    """Seed, serve, time the pages and the statistics, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    if args.stations < 5:
        parser.error("--stations must be at least 5: the timed manager looks after five")
    with fresh_database("uws_bench_dash") as url:
        _serve_and_measure(args, url)


def _serve_and_measure(args: argparse.Namespace, url: str) -> None:
    """Serve cloud-duty on the database, time the pages and statistics, print JSON."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-dash-"))
    broker = LocalBroker(workdir / "broker")
    broker.start()
    settings = DutySettings(
        database_url=url,
        mqtt_port=broker.port,
        api_token=TOKEN,
        snapshot_dir=str(workdir / "snaps"),
        heartbeat_interval_s=86_400,
        mqtt_client_id="bench-dash",
    )
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        _wait(lambda: server.started, 60)
        result = _measure(args, url, f"http://127.0.0.1:{port}", workdir)
    finally:
        server.should_exit = True
        time.sleep(1)
        broker.stop()
    print(json.dumps(result, indent=2))


def _manager_login(http: httpx.Client) -> tuple[str, dict[str, Any]]:
    """A manager of five stations (a handful, as in the issue), signed in."""
    body = {
        "username": "bench.manager",
        "password": "bench-password-123",
        "role": "manager",
        "station_ids": [f"st-{i:03d}" for i in range(1, 6)],
    }
    http.post("/api/v1/users", json=body).raise_for_status()
    creds = {"username": body["username"], "password": body["password"]}
    login = http.post("/api/v1/auth/login", json=creds).raise_for_status().json()
    return login["access_token"], login["user"]


def _year_stats(http: httpx.Client, days: int) -> dict[str, float]:
    """One station's year: the GROUP BY endpoint beside paging visits into Python."""
    until = utcnow()
    since = until - timedelta(days=days)
    window = {"since": since.isoformat(), "until": until.isoformat()}
    started = time.perf_counter()
    http.get("/api/v1/stations/st-001/stats", params=window).raise_for_status()
    sql_s = time.perf_counter() - started
    python_s = _python_stats(http, "st-001", since, until)
    return {
        "group_by_endpoint_s": round(sql_s, 3),
        "baseline_page_visits_and_count_in_python_s": round(python_s, 3),
        "speedup": round(python_s / sql_s, 1),
    }


def _page_loads(runs: int, manager: tuple[str, dict[str, Any]]) -> dict[str, float]:
    admin = {"username": "service-token", "role": "admin", "station_ids": []}
    pages: dict[str, float] = {}
    for who, (token, user) in {"manager": manager, "admin": (TOKEN, admin)}.items():
        pages[f"{who}_overview_cold_s"] = _median(runs, _page_s, token, user, None, cold=True)
        pages[f"{who}_overview_warm_s"] = _median(runs, _page_s, token, user, None, cold=False)
    token, user = manager
    for period in ("30 days", "365 days"):
        key = period.replace(" ", "")
        for temperature, cold in (("cold", True), ("warm", False)):
            pages[f"station_{key}_{temperature}_s"] = _median(
                runs, _page_s, token, user, "pages/station.py", cold=cold, period=period
            )
    return pages


def _measure(args: argparse.Namespace, url: str, base: str, workdir: Path) -> dict[str, Any]:
    engine = make_engine(url)
    media = MEDIA if MEDIA.is_dir() else None
    options = SeedOptions(stations=args.stations, days=args.days, media_dir=media)
    started = time.perf_counter()
    summary = seed(engine, options, utcnow(), SnapshotStore(workdir / "snaps"))
    seed_s = time.perf_counter() - started
    engine.dispose()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=auth, timeout=300) as http:
        manager = _manager_login(http)
        year = _year_stats(http, args.days)
    data.SETTINGS = DashboardSettings(duty_url=base)
    pages = _page_loads(args.runs, manager)
    return {
        "stations": summary.stations,
        "days": args.days,
        "visits": summary.visits,
        "alerts": summary.alerts,
        "seed_s": round(seed_s, 1),
        "seed_visits_per_s": round(summary.visits / seed_s),
        "pages": pages,
        "cold_over_warm_station_365": round(
            pages["station_365days_cold_s"] / max(pages["station_365days_warm_s"], 1e-6), 1
        ),
        "year_stats_one_station": year,
    }


if __name__ == "__main__":
    main()
