"""Node onboarding: exchange a one-time enrolment code for this node's own credentials.

An admin registers the node in cloud-duty and gets a one-time code for its installer;
`station edge enrol --code ... --duty-url ...` sends the code once and writes what comes
back (the node's broker login, its own API credential and the entry keys) to a file only
its owner may read. The node's YAML names that file (`credentials:`), so no secret has to
be typed into, or copied out of, the node's configuration.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from edge.errors import ConfigError, EnrolmentError
from station.contracts import NODE_CREDENTIAL_PREFIX, NodeId, StationId


class NodeCredentials(BaseModel):
    """What enrolment gives a node; kept in a file of mode 0600."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node_id: NodeId
    station_id: StationId
    region: str = Field(default="", max_length=100)
    duty_url: str = Field(pattern=r"^https?://")
    duty_token: SecretStr = Field(description="The node's own API credential (uwsn_...).")
    broker_username: str = Field(min_length=1, max_length=64)
    broker_password: SecretStr
    entry_public_keys: list[str] = Field(min_length=1, max_length=3)

    def to_yaml(self) -> str:
        """The file's text, secrets included."""
        body: dict[str, Any] = self.model_dump(mode="json")
        body["duty_token"] = self.duty_token.get_secret_value()
        body["broker_password"] = self.broker_password.get_secret_value()
        return yaml.safe_dump(body, sort_keys=False)


class _Enrolled(BaseModel):
    model_config = ConfigDict(extra="ignore")

    node_id: str
    station_id: str
    region: str = ""
    username: str
    password: str
    api_token: str
    entry_public_keys: list[str]


def enrol(duty_url: str, code: str, timeout_s: float = 20) -> NodeCredentials:
    """Send the enrolment code to cloud-duty once; return this node's credentials."""
    base = duty_url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=timeout_s) as http:
            response = http.post("/api/v1/enrol", json={"code": code.strip()})
    except httpx.HTTPError as err:
        raise EnrolmentError(f"cloud-duty at {base} did not answer: {err}") from err
    if response.status_code != 200:
        raise EnrolmentError(
            f"cloud-duty refused the enrolment code ({response.status_code}): {response.text[:200]}"
        )
    try:
        answer = _Enrolled.model_validate_json(response.content)
    except ValidationError as err:
        raise EnrolmentError(f"unexpected answer from cloud-duty: {err}") from err
    if not answer.api_token.startswith(NODE_CREDENTIAL_PREFIX):
        raise EnrolmentError("cloud-duty answered without a node credential")
    return NodeCredentials(
        node_id=answer.node_id,
        station_id=answer.station_id,
        region=answer.region,
        duty_url=base,
        duty_token=SecretStr(answer.api_token),
        broker_username=answer.username,
        broker_password=SecretStr(answer.password),
        entry_public_keys=answer.entry_public_keys,
    )


def write_credentials(path: Path, credentials: NodeCredentials) -> None:
    """Write the credentials file, mode 0600 from its first byte, replacing any old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(credentials.to_yaml())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def read_credentials(path: Path) -> NodeCredentials:
    """Read a credentials file; refuse one that others than its owner may read."""
    try:
        mode = path.stat().st_mode
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the credentials: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: others may read the node's credentials; chmod 600 it")
    try:
        return NodeCredentials.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{path}: not a node credentials file: {err}") from err


def merge_credentials(raw: dict[str, Any], credentials: NodeCredentials) -> dict[str, Any]:
    """Fill the node's YAML (as read) from its credentials: node id, broker login, the entry
    section's cloud-duty URL, API credential, station and keys, and the rollout section's
    cloud-duty URL and credential. Values the YAML sets itself stay, except a node id that
    differs, which is refused."""
    merged = dict(raw)
    if merged.setdefault("node_id", credentials.node_id) != credentials.node_id:
        raise ConfigError(
            f"node_id {merged['node_id']!r} is not the enrolled node {credentials.node_id!r}"
        )
    cloud = dict(merged.get("cloud") or {})
    cloud.setdefault("username", credentials.broker_username)
    cloud.setdefault("password", credentials.broker_password.get_secret_value())
    merged["cloud"] = cloud
    if isinstance(merged.get("entry"), dict):
        entry = dict(merged["entry"])
        entry.setdefault("duty_url", credentials.duty_url)
        entry.setdefault("duty_token", credentials.duty_token.get_secret_value())
        policy = dict(entry.get("policy") or {})
        policy.setdefault("station_id", credentials.station_id)
        policy.setdefault("region", credentials.region)
        policy.setdefault("public_key", credentials.entry_public_keys[0])
        policy.setdefault("previous_public_keys", credentials.entry_public_keys[1:])
        entry["policy"] = policy
        merged["entry"] = entry
    merged["rollout"] = _rollout(merged, credentials)
    return merged


def _rollout(raw: dict[str, Any], credentials: NodeCredentials) -> dict[str, Any] | None:
    """An enrolled node takes model updates from the cloud-duty it enrolled with, with the
    rollout section's defaults; `rollout: null` in its YAML turns them off."""
    if "rollout" in raw and not isinstance(raw["rollout"], dict):
        return None if raw["rollout"] is None else raw["rollout"]
    rollout = dict(raw.get("rollout") or {})
    rollout.setdefault("duty_url", credentials.duty_url)
    rollout.setdefault("duty_token", credentials.duty_token.get_secret_value())
    return rollout
