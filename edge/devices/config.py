"""Configuration of the station's local devices and safety rules (the `devices`/`rules` keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

DeviceId = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="Device id, as in dev/<id>/...")
]
EntityName = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9_]{0,31}$", description="Entity name in its topics.")
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationBrokerConfig(_Section):
    """How the node reaches the station's own broker, where the devices are."""

    host: str = Field(default="127.0.0.1", min_length=1, description="Broker host name or IP.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker TCP port.")
    username: str | None = Field(default=None, description="The edge process's broker user.")
    password: SecretStr | None = Field(default=None, description="The edge process's password.")
    tls_ca_file: Path | None = Field(
        default=None, description="CA certificate file; when set, the link uses TLS."
    )
    keepalive_s: int = Field(default=15, ge=5, le=600, description="MQTT keep-alive, seconds.")


class DevicesConfig(_Section):
    """Which devices the station has, by the ids their firmware uses."""

    broker: StationBrokerConfig = Field(
        default_factory=StationBrokerConfig, description="The station's local broker."
    )
    door: DeviceId = Field(default="door", description="Door controller (lock, contact, exit).")
    environment: DeviceId = Field(default="env", description="Temperature/humidity/smoke sensor.")
    sockets: DeviceId = Field(default="sockets", description="Charging-socket bank.")
    socket_names: list[EntityName] = Field(
        default_factory=lambda: ["socket1", "socket2"],
        min_length=1,
        max_length=16,
        description="Sockets of the bank; each has <name>/state, <name>_current/state, ...",
    )
    fan: DeviceId = Field(default="fan", description="Ventilation fan or air conditioner.")
    command_timeout_s: float = Field(
        default=3.0, gt=0, le=60, description="How long a command waits for the state to confirm."
    )

    def resolved(self, base: Path) -> DevicesConfig:
        """Return a copy whose relative CA path is taken from `base` (the YAML file's folder)."""
        ca = self.broker.tls_ca_file
        if ca is None or ca.is_absolute():
            return self
        broker = self.broker.model_copy(update={"tls_ca_file": (base / ca).resolve()})
        return self.model_copy(update={"broker": broker})

    @model_validator(mode="after")
    def _distinct_ids(self) -> DevicesConfig:
        ids = [self.door, self.environment, self.sockets, self.fan]
        if len(set(ids)) != len(ids):
            raise ValueError(f"device ids must differ, got {ids}")
        if len(set(self.socket_names)) != len(self.socket_names):
            raise ValueError("socket_names must not repeat")
        return self


class RulesConfig(_Section):
    """Thresholds of the local safety rules."""

    heat_on_c: float = Field(default=35.0, ge=0, le=80, description="Heat above this: fan on.")
    heat_off_c: float = Field(
        default=33.0, ge=-40, le=80, description="Heat ends below this (hysteresis)."
    )
    overcurrent_a: float = Field(
        default=6.0, gt=0, le=32, description="A socket drawing more than this is cut."
    )
    door_held_open_s: float = Field(
        default=60.0, gt=0, le=3600, description="Door open longer than this raises an event."
    )
    forced_grace_s: float = Field(
        default=5.0,
        ge=0,
        le=120,
        description="An opening this soon after an unlock or an exit press is not forced.",
    )
    tick_s: float = Field(
        default=0.2, gt=0, le=1.0, description="How often timers (held open) are checked."
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> RulesConfig:
        if self.heat_off_c > self.heat_on_c:
            raise ValueError("heat_off_c must not be above heat_on_c")
        return self
