"""The typed services container of one replica, and the dependencies routes read it through."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import Depends, FastAPI, Path, Request
from sqlalchemy import Engine
from sqlmodel import Session

from station.duty.alerting.escalation import EscalationService, Pager
from station.duty.alerting.live_feed import FeedHub
from station.duty.alerting.pages import PageService
from station.duty.alerting.snapshots import SnapshotStorage
from station.duty.clock import Clock
from station.duty.db import INTEGER_MAX
from station.duty.fleet.ingest import IngestPipeline
from station.duty.fleet.node_link import MqttIngest
from station.duty.fleet.registry import NodeDirectory
from station.duty.metrics import DutyMetrics
from station.duty.people.keys import KeyRing
from station.duty.settings import DutySettings


@dataclass
class Services:
    """Everything a cloud-duty replica runs on; built once by `create_app`.

    `escalation`, `scheduler` and `ingest` are set by the lifespan, and stay None where
    the settings turn them off.
    """

    settings: DutySettings
    clock: Clock
    engine: Engine
    hub: FeedHub
    directory: NodeDirectory
    pager: Pager
    snapshots: SnapshotStorage
    pipeline: IngestPipeline
    keys: KeyRing
    metrics: DutyMetrics
    pages: PageService | None = None
    escalation: EscalationService | None = None
    scheduler: BackgroundScheduler | None = None
    ingest: MqttIngest | None = None


def services_of(app: FastAPI) -> Services:
    """The services container `create_app` stored on the app."""
    services: Services = app.state.services
    return services


def get_services(request: Request) -> Services:
    """The services of the app serving this request."""
    return services_of(request.app)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """Yield a database session for one request."""
    with Session(services.engine) as session:
        yield session


def now(services: ServicesDep) -> datetime:
    """Return the app clock's time."""
    return services.clock.now()


SessionDep = Annotated[Session, Depends(get_session)]
RowId = Annotated[int, Path(le=INTEGER_MAX, description="A row's id.")]
NowDep = Annotated[datetime, Depends(now)]
