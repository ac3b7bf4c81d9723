"""The REST API: one router per resource, all behind the API token."""

from fastapi import APIRouter, Depends

from station.duty.api import alerts, records, registry
from station.duty.api.deps import require_token

api_router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])
api_router.include_router(registry.router)
api_router.include_router(records.router)
api_router.include_router(alerts.router)
