"""Delivery attempts of an alert's notifications."""

from __future__ import annotations

from fastapi import APIRouter, Request

from station.duty.api.deps import PrincipalDep, SessionDep, check_scope, not_found
from station.duty.delivery import UnknownAlertError, alert_station, list_deliveries
from station.duty.delivery_models import DeliveryPublic

router = APIRouter(tags=["alerts"])


@router.get("/alerts/{alert_id}/deliveries")
def list_alert_deliveries(
    request: Request, session: SessionDep, who: PrincipalDep, alert_id: int
) -> list[DeliveryPublic]:
    """Return every attempt to notify someone about the alert, with its result."""
    try:
        station_id = alert_station(session, alert_id)
    except UnknownAlertError as err:
        raise not_found(err) from err
    check_scope(request, who, "read deliveries", f"alert {alert_id}", station_id)
    return [DeliveryPublic.model_validate(row) for row in list_deliveries(session, alert_id)]
