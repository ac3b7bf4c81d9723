"""Shared fixtures: a real Mosquitto, a real PostgreSQL database, the shared models and media."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.broker import MosquittoBroker

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "0")

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("UWS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


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
    name = f"uws_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
