"""The REST API: one router per room; all but sign-in need a bearer token."""

from fastapi import APIRouter, Depends

from station.duty.alerting.routes import alerts, deliveries, events, rosters
from station.duty.api.access import current_caller
from station.duty.fleet import routes as fleet_routes
from station.duty.people.routes import accounts, members, visits
from station.duty.reports import routes as report_routes

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(accounts.public_router)

_protected = APIRouter(dependencies=[Depends(current_caller)])
for _room_router in (
    accounts.router,
    fleet_routes.router,
    events.router,
    visits.router,
    alerts.router,
    rosters.router,
    deliveries.router,
    members.router,
    report_routes.router,
):
    _protected.include_router(_room_router)
api_router.include_router(_protected)
