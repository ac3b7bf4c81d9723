"""Fixtures for cloud-duty: an app on a database with one station and node registered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from station.contracts import Event
from station.duty.db import make_engine, migrate
from station.duty.fleet.ingest import IngestPipeline
from station.duty.fleet.models import NodeCreate, StationCreate
from station.duty.fleet.registry import NodeDirectory, create_node, create_station
from station.duty.services import Services, services_of
from tests.duty.messages import inbound

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.current = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """Return the current test time."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.current += timedelta(seconds=seconds)


def register(engine: Engine, station: str = "st-1", node: str = "node-1") -> None:
    """Register a station and its node."""
    with Session(engine) as session:
        create_station(session, StationCreate(id=station, name=f"Station {station}"))
        create_node(session, NodeCreate(id=node, station_id=station))


def user_headers(
    api: TestClient, username: str, role: str, stations: tuple[str, ...] = ()
) -> dict[str, str]:
    """Create a user through the API and return the headers of their signed-in session."""
    password = f"{username}-password-123"
    body = {"username": username, "password": password, "role": role, "station_ids": list(stations)}
    api.post("/api/v1/users", json=body, headers=AUTH).raise_for_status()
    login = api.post("/api/v1/auth/login", json={"username": username, "password": password})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


@pytest.fixture
def clock() -> ManualClock:
    """A hand-moved clock."""
    return ManualClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database: SQLite in a temp folder, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'duty.sqlite'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a migrated database with station st-1 and node node-1."""
    eng = make_engine(db_url)
    migrate(eng)
    register(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def pipeline(engine: Engine, clock: ManualClock) -> IngestPipeline:
    """The ingest pipeline on that database, without MQTT."""
    return IngestPipeline(engine, clock, NodeDirectory(unknown_ttl_s=0))


def duty_services(client: TestClient) -> Services:
    """The services container behind a test client of cloud-duty."""
    assert isinstance(client.app, FastAPI)
    return services_of(client.app)


def ingest(client: TestClient, *messages: Event) -> None:
    """Put event messages through the app's ingest pipeline, as if from the broker."""
    duty_services(client).pipeline.process([inbound(m) for m in messages])


@pytest.fixture
def api(db_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[TestClient]:
    """The app with no MQTT and no scheduler, through Starlette's test client."""
    from station.duty.app import create_app
    from station.duty.settings import DutySettings

    settings = DutySettings(
        database_url=db_url,
        api_token=TOKEN,
        start_ingest=False,
        start_scheduler=False,
        # Each test's own folder: one test's snapshot of "ev-2" must not answer another's.
        snapshot_dir=str(tmp_path / "snapshots"),
    )
    app = create_app(settings, clock)
    with TestClient(app) as client:
        register(services_of(app).engine)
        yield client
