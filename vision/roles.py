"""Map a model's class names to the roles the rest of the system reasons about."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """What a detected object means to the station, whatever the model calls it."""

    PERSON = "person"
    FALLEN = "fallen"
    FIRE = "fire"
    SMOKE = "smoke"


# Keys are lower-case: models spell the same class differently ("Fall", "fall", "FIRE").
DEFAULT_ROLES: Final[Mapping[str, Role]] = {
    "person": Role.PERSON,
    "people": Role.PERSON,
    # A fall model's upright class is still a person in the room.
    "normal": Role.PERSON,
    "fall": Role.FALLEN,
    "fallen": Role.FALLEN,
    "fall-detected": Role.FALLEN,
    "fire": Role.FIRE,
    "flame": Role.FIRE,
    "smoke": Role.SMOKE,
}


class RoleMap:
    """Class name -> role lookup: the defaults, overridden per model from configuration."""

    def __init__(self, overrides: Mapping[str, Role | None] | None = None) -> None:
        """Build the map; an override to None makes the model's class ignored."""
        table: dict[str, Role | None] = dict(DEFAULT_ROLES)
        for name, role in (overrides or {}).items():
            table[name.strip().lower()] = role
        self._table = table

    def role_for(self, class_name: str) -> Role | None:
        """Return the role of a class name, or None when the class is of no interest."""
        return self._table.get(class_name.strip().lower())

    def as_dict(self) -> dict[str, Role | None]:
        """Return the effective table (lower-case class name -> role)."""
        return dict(self._table)
