"""What the seed generates, what it reports, and how it refuses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SeedError(RuntimeError):
    """The database cannot be seeded as asked."""


class SeedOptions(BaseModel):
    """What to generate."""

    model_config = ConfigDict(extra="forbid")
    stations: int = Field(default=50, ge=1, le=999, description="Stations to create.")
    days: int = Field(default=365, ge=1, le=800, description="Days of history up to now.")
    members_per_station: int = Field(default=150, ge=1, le=5000, description="Members each.")
    visits_per_day: float = Field(default=40, gt=0, le=2000, description="Mean per station.")
    alerts_per_week: float = Field(default=0.8, ge=0, le=100, description="Mean per station.")
    random_seed: int = Field(default=6, description="Same seed, same data.")
    media_dir: Path | None = Field(default=None, description="Images for recent snapshots.")


@dataclass(frozen=True)
class SeedSummary:
    """How many rows of each kind went in."""

    stations: int
    nodes: int
    members: int
    visits: int
    alerts: int
    snapshots: int
