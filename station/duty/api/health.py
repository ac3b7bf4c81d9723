"""`/healthz` for load balancers and orchestrators, `/metrics` for Prometheus.

Who may call them:
- `/healthz` is public: a load balancer or Docker's health check holds no credential, and
  the answer names only which part failed (database, broker, scheduler), never how.
- `/metrics` needs the scrape token (the monitor role) or an admin: the figures show how many
  alerts of each kind are open and how busy each replica is, which is operational data for
  the people running the fleet, not for the stations' staff or the public. The scrape token
  opens nothing else, so Prometheus never holds an admin credential.
"""

from __future__ import annotations

from typing import Annotated

from apscheduler.schedulers.base import STATE_RUNNING
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from station.duty.api.access import PUBLIC, Caller, allow
from station.duty.people.models import Role
from station.duty.services import Services, ServicesDep

router = APIRouter(tags=["health"])


def health_checks(services: Services) -> dict[str, bool]:
    """Each part this replica needs, and whether it works now; parts turned off pass."""
    checks = {"database": True, "broker": True, "scheduler": True}
    try:
        with Session(services.engine) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except SQLAlchemyError:
        checks["database"] = False
    if services.settings.start_ingest:
        checks["broker"] = bool(services.ingest and services.ingest.connected.is_set())
    if services.settings.start_scheduler:
        # Paused runs no jobs (no escalation, no offline check): as bad as stopped.
        scheduler = services.scheduler
        checks["scheduler"] = scheduler is not None and scheduler.state == STATE_RUNNING
    return checks


@router.get("/healthz", dependencies=[PUBLIC])
def healthz(services: ServicesDep) -> JSONResponse:
    """200 when the database, the broker link and the scheduler work; 503 naming what fails."""
    checks = health_checks(services)
    failing = sorted(part for part, ok in checks.items() if not ok)
    stats = services.pipeline.stats
    body = {
        "ok": not failing,
        "failing": failing,
        "checks": checks,
        "broker_connected": checks["broker"] and services.ingest is not None,
        "received": stats.received,
        "persisted": stats.persisted,
        "rejected": stats.rejected,
    }
    return JSONResponse(body, status_code=503 if failing else 200)


@router.get("/metrics", response_class=Response)
def metrics(
    services: ServicesDep, _who: Annotated[Caller, allow(Role.ADMIN, Role.MONITOR)]
) -> Response:
    """This replica's figures in the Prometheus text format."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
