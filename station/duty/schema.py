"""Every room's tables on one metadata: what the migrations build and autogenerate compares."""

from __future__ import annotations

from sqlmodel import SQLModel

# Importing each room's models registers its tables on SQLModel.metadata.
from station.duty.alerting import models as alerting_models
from station.duty.alerting import roster_models
from station.duty.fleet import model_models
from station.duty.fleet import models as fleet_models
from station.duty.people import cards as card_models
from station.duty.people import models as people_models
from station.duty.people import rights_models

ROOM_MODELS = (
    alerting_models,
    roster_models,
    fleet_models,
    people_models,
    rights_models,
    card_models,
    model_models,
)
metadata = SQLModel.metadata
