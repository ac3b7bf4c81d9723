"""schemathesis over the REST API: every operation of the OpenAPI schema, fed generated
requests under each role's credential (and none), never answers 5xx, and every answer it
documents matches its schema.

Bounded: a few examples per operation, the role drawn per example. Routes that end the
callers' own credentials (sign-out, node credential rotation) and the endless SSE feed are
left out: they would only turn the rest of the run into 401s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from station.duty.app import create_app
from station.duty.services import services_of
from station.duty.settings import DutySettings
from tests.duty.conftest import ManualClock, register
from tests.duty.messages import event, inbound

TOKEN = "fuzz-service-token-0123456789"
PASSWORD = "fuzz-password-123"
EXAMPLES = 2
LEFT_OUT = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/nodes/{node_id}/credentials"),
    ("DELETE", "/api/v1/nodes/{node_id}/credentials"),
    ("GET", "/api/v1/alerts/feed"),
}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
NO_BROKER = ("POST", "/api/v1/nodes/{node_id}/commands")
"""This replica runs without a broker, so a command to a node the run has registered answers
503 "no broker link", as a replica without one must: the only 5xx the run allows."""


def _login(api: TestClient, username: str) -> str:
    answer = api.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@pytest.fixture
def app_with_tokens(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[FastAPI, list[str]]]:
    """A migrated cloud-duty with one alert, and a credential of every kind of caller."""
    settings = DutySettings(
        database_url=f"sqlite:///{tmp_path / 'duty.sqlite'}",
        api_token=TOKEN,
        admin_password=PASSWORD,
        key_file=str(tmp_path / "keys.json"),
        snapshot_dir=str(tmp_path / "snaps"),
        start_ingest=False,
        start_scheduler=False,
    )
    app = create_app(settings, clock)
    service = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app) as api:
        register(services_of(app).engine)
        services_of(app).pipeline.process([inbound(event("ev-1", clock.now()))])
        for username, role, stations in (("li", "duty", []), ("wang", "manager", ["st-1"])):
            body = {"username": username, "password": PASSWORD, "role": role}
            api.post("/api/v1/users", json={**body, "station_ids": stations}, headers=service)
        member = api.post(
            "/api/v1/members", json={"occupation": "courier", "station_id": "st-1"}, headers=service
        ).json()["id"]
        node = api.post("/api/v1/nodes/node-1/credentials", headers=service).json()
        credential = api.post(
            f"/api/v1/members/{member}/credential", json={"scopes": ["st-1"]}, headers=service
        ).json()
        tokens = [
            TOKEN,
            _login(api, "admin"),
            _login(api, "li"),
            _login(api, "wang"),
            node["api_token"],
            credential["credential"],
            "",
        ]
        yield app, tokens


def test_no_operation_answers_5xx_or_off_schema_for_any_role(
    app_with_tokens: tuple[FastAPI, list[str]],
) -> None:
    app, tokens = app_with_tokens
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # a schema schemathesis cannot read is a failure
        operations.append(result.ok())
    tried = 0
    for operation in operations:
        if (operation.method.upper(), operation.path) in LEFT_OUT:
            continue

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), token=st.sampled_from(tokens))
        def fuzz(case: schemathesis.Case[Any], token: str) -> None:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = case.call(headers=headers)
            if (case.method.upper(), case.path) == NO_BROKER and response.status_code == 503:
                assert "no broker link" in response.text
                return
            case.validate_response(response, checks=CHECKS, headers=headers)

        fuzz()
        tried += 1
    assert tried >= len(operations) - len(LEFT_OUT)
    assert tried > 50
