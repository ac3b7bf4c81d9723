"""The `station seed` and `station dashboard` commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from devkit.seed.options import SeedError, SeedOptions
from devkit.seed.stations import seed
from station.contracts import utcnow
from station.duty.app import snapshot_storage
from station.duty.db import make_engine, migrate
from station.duty.settings import DutySettings

logger = logging.getLogger(__name__)
DASHBOARD_APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `seed` and `dashboard` to the `station` command."""
    seed = sub.add_parser("seed", help="fill cloud-duty's database (UWS_DATABASE_URL) for demos")
    seed.add_argument("--stations", type=int, default=50, help="stations to create")
    seed.add_argument("--days", type=int, default=365, help="days of history up to now")
    seed.add_argument("--visits-per-day", type=float, default=40, help="mean per station")
    seed.add_argument("--random-seed", type=int, default=6, help="same seed, same data")
    seed.add_argument("--media", help="folder of images for recent snapshots (../shared/media)")
    seed.set_defaults(func=run_seed)

    dash = sub.add_parser("dashboard", help="run the managers' dashboard (streamlit)")
    dash.add_argument("--port", type=int, default=8501, help="the dashboard's HTTP port")
    dash.add_argument("--duty-url", help="cloud-duty's URL (else UWS_DASHBOARD_DUTY_URL)")
    dash.set_defaults(func=run_dashboard)


def run_seed(args: argparse.Namespace) -> int:
    """Migrate the database, then seed it."""
    try:
        settings = DutySettings()
        options = SeedOptions(
            stations=args.stations,
            days=args.days,
            visits_per_day=args.visits_per_day,
            random_seed=args.random_seed,
            media_dir=Path(args.media) if args.media else None,
        )
    except ValidationError as err:
        logger.error("cannot seed:\n%s", err)
        return 2
    engine = make_engine(settings.database_url)
    migrate(engine)
    started = time.perf_counter()
    try:
        summary = seed(engine, options, utcnow(), snapshot_storage(settings, engine))
    except SeedError as err:
        logger.error("cannot seed: %s", err)
        return 2
    logger.info("seeded in %.1f s: %s", time.perf_counter() - started, summary)
    return 0


def run_dashboard(args: argparse.Namespace) -> int:
    """Become `streamlit run dashboard/app.py`, headless on the given port.

    The process replaces itself (exec), so a SIGTERM or Ctrl-C meant for `station dashboard`
    reaches Streamlit itself and no server is left behind.
    """
    env = dict(os.environ)
    if args.duty_url:
        env["UWS_DASHBOARD_DUTY_URL"] = args.duty_url
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_APP),
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
    logging.shutdown()  # flush our handlers: exec never returns to run them
    os.execve(sys.executable, command, env)  # noqa: S606  # our own interpreter, fixed args
