"""The API's one access dependency and its one error handler."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from station.duty.api.handlers import install_error_handler
from station.duty.errors import (
    ConflictError,
    DutyError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    UnauthorizedError,
    UnavailableError,
    UpstreamError,
)
from tests.duty.conftest import AUTH, TOKEN


def test_api_refuses_missing_or_wrong_token(api: TestClient) -> None:
    assert api.get("/api/v1/alerts").status_code == 401
    bad = api.get("/api/v1/alerts", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert api.get("/api/v1/alerts", headers=AUTH).status_code == 200
    # A token in the URL is never read: it would end up in proxy and access logs.
    assert api.get("/api/v1/alerts", params={"access_token": TOKEN}).status_code == 401
    assert api.get("/api/v1/alerts/feed", params={"access_token": TOKEN}).status_code == 401


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidRequestError, 422),
        (UnauthorizedError, 401),
        (ForbiddenError, 403),
        (NotFoundError, 404),
        (ConflictError, 409),
        (UpstreamError, 502),
        (UnavailableError, 503),
    ],
)
def test_a_duty_error_answers_its_status_and_message(error: type[DutyError], status: int) -> None:
    app = FastAPI()
    install_error_handler(app)

    @app.get("/boom")
    def boom() -> None:
        raise error("what went wrong")

    with TestClient(app) as client:
        answer = client.get("/boom")
    assert (answer.status_code, answer.json()) == (status, {"detail": "what went wrong"})


def test_domain_errors_belong_to_the_hierarchy() -> None:
    from station.duty.alerting.alerts import AlertNotFoundError, AlertTransitionError
    from station.duty.fleet.registry import NotRegisteredError, RegistryError
    from station.duty.people.auth import AccountError, AuthError
    from station.duty.people.members import MemberConflictError, MemberNotFoundError
    from station.duty.reports.figures import StatsError

    assert issubclass(AlertNotFoundError, NotFoundError)
    assert issubclass(AlertTransitionError, ConflictError)
    assert issubclass(NotRegisteredError, NotFoundError)
    assert issubclass(RegistryError, ConflictError)
    assert issubclass(AuthError, UnauthorizedError)
    assert issubclass(AccountError, ConflictError)
    assert issubclass(MemberNotFoundError, NotFoundError)
    assert issubclass(MemberConflictError, ConflictError)
    assert issubclass(StatsError, InvalidRequestError)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/alerts/{}",
        "/api/v1/alerts/{}/deliveries",
        "/api/v1/alerts?offset={}",
    ],
)
def test_an_id_or_offset_beyond_a_database_integer_is_refused_not_a_server_error(
    api: TestClient, path: str
) -> None:
    # Found by the schema fuzz: 2**63 reached SQLite and answered 500.
    for huge in (2**31, 2**63):
        assert api.get(path.format(huge), headers=AUTH).status_code == 422
    assert api.get(path.format(2**31 - 1), headers=AUTH).status_code in (200, 404)
