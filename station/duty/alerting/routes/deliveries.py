"""Delivery attempts of an alert's notifications."""

from __future__ import annotations

from fastapi import APIRouter

from station.duty.alerting.deliveries import alert_station, list_deliveries
from station.duty.alerting.models import DeliveryPublic
from station.duty.api.access import StaffDep
from station.duty.services import RowId, SessionDep

router = APIRouter(tags=["alerts"])


@router.get("/alerts/{alert_id}/deliveries")
def list_alert_deliveries(
    session: SessionDep, who: StaffDep, alert_id: RowId
) -> list[DeliveryPublic]:
    """Return every attempt to notify someone about the alert, with its result."""
    station_id = alert_station(session, alert_id)
    who.check_scope("read deliveries", f"alert {alert_id}", station_id)
    return [DeliveryPublic.model_validate(row) for row in list_deliveries(session, alert_id)]
