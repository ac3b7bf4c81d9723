"""The REST API: one router per resource; all but sign-in need a bearer token."""

from fastapi import APIRouter, Depends

from station.duty.api import accounts, alerts, commands, deliveries, records, registry, rosters
from station.duty.api import members as members_api
from station.duty.api import stats as stats_api
from station.duty.api.deps import current_principal

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(accounts.public_router)

_protected = APIRouter(dependencies=[Depends(current_principal)])
_protected.include_router(accounts.router)
_protected.include_router(registry.router)
_protected.include_router(records.router)
_protected.include_router(alerts.router)
_protected.include_router(rosters.router)
_protected.include_router(commands.router)
_protected.include_router(deliveries.router)
_protected.include_router(members_api.router)
_protected.include_router(stats_api.router)
api_router.include_router(_protected)
