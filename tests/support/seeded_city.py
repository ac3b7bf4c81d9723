"""A running cloud-duty on a seeded city, with a manager of two of its stations."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from devkit.seed.options import SeedOptions, SeedSummary
from devkit.seed.stations import seed
from station.contracts import utcnow
from station.duty.alerting.snapshots import DatabaseSnapshots
from station.duty.db import make_engine
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer

MANAGER = "manager.wu"
MANAGER_PASSWORD = "manager-password-123"
MANAGED = ["st-002", "st-004"]


@dataclass(frozen=True)
class SeededDuty:
    """A running cloud-duty with seeded data and a manager of two stations."""

    server: DutyServer
    summary: SeedSummary
    manager_token: str
    manager_user: dict[str, object]
    db_url: str

    def manager(self) -> httpx.Client:
        """An HTTP client signed in as the manager."""
        headers = {"Authorization": f"Bearer {self.manager_token}"}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=30)


@contextmanager
def seeded_duty(pg_url: str, root: Path, media_dir: Path) -> Iterator[SeededDuty]:
    """cloud-duty on a seeded database: 6 stations, 60 days, snapshots from shared media."""
    broker = MosquittoBroker(root / "broker")
    broker.start()
    # Seeded nodes send no heartbeats: a long interval keeps liveness from changing the data.
    server = DutyServer(
        pg_url,
        broker.port,
        snapshot_dir=str(root / "snapshots"),
        heartbeat_interval_s=86_400,
        mqtt_client_id=f"duty-dash-{uuid.uuid4().hex[:6]}",
    ).start()
    engine = make_engine(pg_url)
    options = SeedOptions(stations=6, days=60, members_per_station=40, media_dir=media_dir)
    summary = seed(engine, options, utcnow(), DatabaseSnapshots(engine))
    engine.dispose()
    with server.client() as http:
        body = {
            "username": MANAGER,
            "password": MANAGER_PASSWORD,
            "role": "manager",
            "station_ids": MANAGED,
        }
        http.post("/api/v1/users", json=body).raise_for_status()
        login = http.post(
            "/api/v1/auth/login", json={"username": MANAGER, "password": MANAGER_PASSWORD}
        )
        login.raise_for_status()
    answer = login.json()
    yield SeededDuty(server, summary, answer["access_token"], answer["user"], pg_url)
    server.stop()
    broker.stop()
