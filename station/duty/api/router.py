"""The REST API: one router per room. Every route declares its access rule (the roles that
may call it, or PUBLIC); `declare_access` refuses a router with a route that declares none."""

from fastapi import APIRouter

from station.duty.alerting.routes import (
    alerts,
    deliveries,
    events,
    provider_callbacks,
    rosters,
)
from station.duty.api.access import declare_access
from station.duty.api.handlers import ERROR_RESPONSES
from station.duty.fleet import model_routes
from station.duty.fleet import routes as fleet_routes
from station.duty.people.routes import accounts, cards, entry, member_rights, members, visits
from station.duty.reports import routes as report_routes

api_router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
for _room_router in (
    accounts.router,
    fleet_routes.router,
    model_routes.router,
    events.router,
    visits.router,
    alerts.router,
    rosters.router,
    deliveries.router,
    provider_callbacks.router,
    members.router,
    member_rights.router,
    cards.router,
    entry.router,
    report_routes.router,
):
    declare_access(_room_router.routes)
    api_router.include_router(_room_router)
