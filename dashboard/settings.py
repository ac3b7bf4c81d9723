"""The dashboard's settings, read once from UWS_DASHBOARD_* environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, FilePath, HttpUrl
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAP = Path(__file__).resolve().parent / "geo" / "shenzhen-districts.geojson"


class DashboardSettings(BaseSettings):
    """Where cloud-duty is and how the dashboard talks to it."""

    model_config = SettingsConfigDict(env_prefix="UWS_DASHBOARD_", extra="forbid")

    duty_url: HttpUrl = Field(
        default=HttpUrl("http://127.0.0.1:8000"), description="cloud-duty's base URL."
    )
    timezone: str = Field(
        default="Asia/Shanghai", max_length=64, description="IANA zone for hours and days."
    )
    cache_ttl_s: int = Field(
        default=60, ge=0, le=3600, description="Seconds a fetched figure is reused."
    )
    map_geojson: FilePath = Field(
        default=DEFAULT_MAP,
        description="District boundaries (GeoJSON) the overview draws stations on; no tiles.",
    )
    page_size: int = Field(default=10, ge=1, le=100, description="Rows per page in lists.")
    timeout_s: float = Field(default=20, gt=0, le=300, description="HTTP timeout per request.")

    @property
    def base_url(self) -> str:
        """cloud-duty's URL without a trailing slash."""
        return str(self.duty_url).rstrip("/")
