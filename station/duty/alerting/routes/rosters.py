"""Duty rotations, overrides, who is on duty, coverage gaps, escalation policies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import col, select

from station.duty.alerting import rosters
from station.duty.alerting.roster_models import (
    EscalationPolicy,
    EscalationPolicyCreate,
    EscalationPolicyPublic,
    OverrideCreate,
    RosterOverride,
    Rotation,
    RotationCreate,
    RotationPublic,
)
from station.duty.api.access import AdminDep, StaffDep
from station.duty.errors import InvalidRequestError, NotFoundError
from station.duty.fleet.models import Station
from station.duty.people.audit import audit
from station.duty.services import NowDep, RowId, SessionDep

router = APIRouter(tags=["rosters"])


@router.post("/rotations", status_code=status.HTTP_201_CREATED)
def create_rotation(session: SessionDep, who: AdminDep, body: RotationCreate) -> RotationPublic:
    """Create a rotation (admins only)."""
    rotation = Rotation.model_validate(body)
    session.add(rotation)
    audit(session, who, "create rotation", body.name, None, ",".join(body.members))
    session.commit()
    session.refresh(rotation)
    return RotationPublic.model_validate(rotation)


@router.get("/rotations")
def list_rotations(session: SessionDep, who: StaffDep) -> list[RotationPublic]:  # noqa: ARG001
    """List rotations."""
    rows = session.exec(select(Rotation).order_by(col(Rotation.id))).all()
    return [RotationPublic.model_validate(r) for r in rows]


@router.post("/rotations/{rotation_id}/overrides", status_code=status.HTTP_201_CREATED)
def add_override(
    session: SessionDep, who: AdminDep, rotation_id: RowId, body: OverrideCreate
) -> dict[str, object]:
    """Let someone cover a rotation for a while (admins only)."""
    if session.get(Rotation, rotation_id) is None:
        raise NotFoundError(f"no rotation {rotation_id}")
    if body.ends_at <= body.starts_at:
        raise InvalidRequestError("ends_at must follow starts_at")
    override = RosterOverride(rotation_id=rotation_id, **body.model_dump())
    session.add(override)
    audit(session, who, "override rotation", f"rotation {rotation_id}", None, body.username)
    session.commit()
    return {"id": override.id, "rotation_id": rotation_id, "username": body.username}


@router.get("/rosters/on-duty")
def who_is_on_duty(
    session: SessionDep,
    who: StaffDep,
    now: NowDep,
    station_id: str,
    level: Annotated[int, Query(ge=1, le=9)] = 1,
    at: datetime | None = None,
) -> dict[str, object]:
    """Who answers this station's alerts at a level, now or at a given time."""
    who.check_scope("read roster", f"station {station_id}", station_id)
    station = session.get(Station, station_id)
    if station is None:
        raise NotFoundError(f"no station {station_id}")
    when = at or now
    people = rosters.on_duty(session, station.region, level, when)
    return {"station_id": station_id, "level": level, "at": when, "usernames": people}


@router.get("/rosters/gaps")
def coverage_gaps(
    session: SessionDep,
    who: StaffDep,  # noqa: ARG001  # the access rule
    now: NowDep,
    region: str = "",
    days: Annotated[int, Query(ge=1, le=31)] = 7,
) -> dict[str, object]:
    """Hours in the coming days when nobody at level 1 covers the region."""
    gaps = rosters.coverage_gaps(session, region, now, days * 24)
    return {"region": region, "from": now, "hours": days * 24, "gaps": gaps}


@router.post("/escalation-policies", status_code=status.HTTP_201_CREATED)
def create_policy(
    session: SessionDep, who: AdminDep, body: EscalationPolicyCreate
) -> EscalationPolicyPublic:
    """Create a region's escalation policy; '' is the default (admins only)."""
    policy = EscalationPolicy(
        name=body.name,
        region=body.region,
        steps=[s.model_dump() for s in body.steps],
        repeat=body.repeat,
    )
    session.add(policy)
    audit(session, who, "create escalation policy", body.name, None, body.region)
    session.commit()
    session.refresh(policy)
    return EscalationPolicyPublic.model_validate(policy)
