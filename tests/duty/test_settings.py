"""cloud-duty settings are validated once; production refuses placeholders."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from station.duty.settings import DutySettings

PG = "postgresql+psycopg://duty@db/duty"


def test_production_refuses_placeholder_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UWS_ENVIRONMENT", "production")
    monkeypatch.setenv("UWS_DATABASE_URL", PG)
    with pytest.raises(ValidationError, match="UWS_API_TOKEN is a placeholder"):
        DutySettings()
    monkeypatch.setenv("UWS_API_TOKEN", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    monkeypatch.setenv("UWS_ADMIN_PASSWORD", "a-long-real-password")
    assert DutySettings().environment == "production"


def test_production_refuses_sqlite() -> None:
    with pytest.raises(ValidationError, match="PostgreSQL"):
        DutySettings(
            environment="production",
            api_token="a-real-secret-of-some-length",
            admin_password="another-real-secret",
        )


def test_unknown_and_mistyped_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        DutySettings(mqtt_hots="x")  # type: ignore[call-arg]
    monkeypatch.setenv("UWS_MQTT_PORT", "eighty")
    with pytest.raises(ValidationError, match="mqtt_port"):
        DutySettings()
