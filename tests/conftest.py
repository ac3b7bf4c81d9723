"""Shared fixtures: real Mosquitto, PostgreSQL and S3 store; the shared models and media."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser

from tests.support.broker import MosquittoBroker
from tests.support.browser import chromium
from tests.support.database import fresh_database
from tests.support.reaper import EXIT_GRACE_S, exit_within, mark_this_run, reap_leftovers

if TYPE_CHECKING:
    from tests.support.s3_server import S3Server

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")

REPO = Path(__file__).resolve().parent.parent
RUN = mark_this_run()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Kill what the tests left running and bound the interpreter's exit."""
    left = reap_leftovers(RUN)
    if left:
        print(f"\nthe tests left {len(left)} process(es) running, now killed:")
        for command in left:
            print(f"  {command}")
    exit_within(EXIT_GRACE_S, int(exitstatus))


def _shared_dir(env: str, default: Path) -> Path:
    path = Path(os.environ.get(env, default)).resolve()
    if not path.is_dir():
        pytest.fail(f"{env} must point at a folder; {path} does not exist")
    return path


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The folder of real model weights (../shared/models by default)."""
    return _shared_dir("UWS_MODELS_DIR", REPO.parent / "shared" / "models")


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The folder of real clips and images (../shared/media by default)."""
    return _shared_dir("UWS_MEDIA_DIR", REPO.parent / "shared" / "media")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A real Mosquitto on a free port, owned by this test."""
    mosquitto = MosquittoBroker(tmp_path / "broker")
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database, created for this test and dropped after it."""
    with fresh_database() as url:
        yield url


@pytest.fixture
def s3() -> Iterator[S3Server]:
    """A fresh S3-compatible server (moto's) with the bucket and a key for it."""
    # Imported here: moto and boto3 take a second to import, and few tests need them.
    from tests.support.s3_server import s3_server

    with s3_server() as server:
        yield server


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (Playwright) for the console and dashboard tests."""
    with chromium() as launched:
        yield launched
