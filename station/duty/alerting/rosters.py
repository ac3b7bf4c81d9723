"""Who is on duty: rotations in their own time zone, overrides, and hours nobody covers."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from station.duty.alerting.roster_models import RosterOverride, Rotation


def on_shift(rotation: Rotation, at: datetime) -> str | None:
    """Return the member whose shift covers `at` in this rotation, ignoring overrides."""
    if not rotation.members:
        return None
    zone = ZoneInfo(rotation.timezone)
    anchor = datetime.combine(rotation.starts_on, time(rotation.handoff_hour), tzinfo=zone)
    elapsed = at.astimezone(zone) - anchor
    if elapsed < timedelta(0):
        return None
    shift = int(elapsed // timedelta(hours=rotation.shift_hours))
    return rotation.members[shift % len(rotation.members)]


def rotations_for(session: Session, region: str, level: int | None = None) -> list[Rotation]:
    """Rotations covering a region (its own and the catch-all ''), optionally one level."""
    query = select(Rotation).where(col(Rotation.region).in_({region, ""}))
    if level is not None:
        query = query.where(Rotation.level == level)
    return list(session.exec(query.order_by(col(Rotation.id))).all())


def on_duty(session: Session, region: str, level: int, at: datetime) -> list[str]:
    """Return the usernames on duty for the region at that level and time."""
    people: list[str] = []
    for rotation in rotations_for(session, region, level):
        cover = session.exec(
            select(RosterOverride.username).where(
                RosterOverride.rotation_id == rotation.id,
                col(RosterOverride.starts_at) <= at,
                col(RosterOverride.ends_at) > at,
            )
        ).first()
        person = cover or on_shift(rotation, at)
        if person and person not in people:
            people.append(person)
    return people


def coverage_gaps(session: Session, region: str, start: datetime, hours: int) -> list[datetime]:
    """Return the starts of the hours in which nobody at level 1 covers the region."""
    start = start.replace(minute=0, second=0, microsecond=0)
    slots = (start + timedelta(hours=h) for h in range(hours))
    return [slot for slot in slots if not on_duty(session, region, 1, slot)]
