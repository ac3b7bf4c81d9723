"""The offline base map: district boundaries read from a GeoJSON file, checked once."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class DistrictProperties(BaseModel):
    """What the map needs of a district: its name, and optionally its Chinese name."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1, description="Matched against the stations' region.")
    name_zh: str = Field(default="", description="The name shown to Chinese readers.")


class District(BaseModel):
    """One district outline."""

    type: Literal["Feature"]
    properties: DistrictProperties
    geometry: dict[str, Any] = Field(description="A GeoJSON Polygon or MultiPolygon.")

    def centre(self) -> tuple[float, float]:
        """The mean of the outline's vertices (longitude, latitude): where its name goes."""
        rings = self.geometry["coordinates"]
        if self.geometry["type"] == "MultiPolygon":
            rings = [ring for polygon in rings for ring in polygon]
        points = [p for p in rings[0]]
        return (
            sum(float(p[0]) for p in points) / len(points),
            sum(float(p[1]) for p in points) / len(points),
        )


class DistrictMap(BaseModel):
    """A GeoJSON FeatureCollection of districts."""

    type: Literal["FeatureCollection"]
    features: list[District] = Field(min_length=1)


class BaseMapError(ValueError):
    """The base map file is missing or not a collection of district outlines."""


@cache
def load(path: Path) -> DistrictMap:
    """Read and check a district map (once per file)."""
    try:
        found = DistrictMap.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as err:
        raise BaseMapError(f"{path} is not a usable district map: {err}") from err
    for district in found.features:
        if district.geometry.get("type") not in {"Polygon", "MultiPolygon"}:
            raise BaseMapError(f"{path}: {district.properties.name} is not a polygon")
    return found
