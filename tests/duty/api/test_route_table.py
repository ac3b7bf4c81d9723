"""The role x route table: every route of the OpenAPI schema, called by each kind of caller
(admin, duty, manager of station A, node of station A, member of station A, no token), is
admitted or refused exactly as declared here, and states its roles in the schema.

A route missing from ROUTES fails this test: a new route needs a declared rule. Each call
aims at station A's own alert, event, node and member, so "admitted" means the role and
the station scope both let it through; every refusal must leave a line in the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from station.duty.app import create_app
from station.duty.fleet.models import NodeCreate, StationCreate
from station.duty.fleet.registry import create_node, create_station
from station.duty.people.models import AuditEntry
from station.duty.services import services_of
from station.duty.settings import DutySettings
from tests.duty.conftest import ManualClock
from tests.duty.messages import event, inbound

ADMIN, DUTY, MANAGER, NODE, MEMBER, ANON = "admin", "duty", "manager", "node", "member", "none"
MONITOR = "monitor"
ROLES = (ADMIN, DUTY, MANAGER, NODE, MEMBER, MONITOR, ANON)
STAFF = {ADMIN, DUTY, MANAGER}
PUBLIC = set(ROLES)
TOKEN = "table-service-token-0123456789"
SCRAPE_TOKEN = "table-scrape-token-0123456789"
PASSWORD = "table-password-123"

# (method, path) -> the callers admitted. "public" routes admit everyone, no token too.
ROUTES: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): STAFF,
    ("GET", "/api/v1/auth/me"): STAFF | {NODE, MEMBER, MONITOR},
    ("PATCH", "/api/v1/auth/me"): STAFF,
    ("POST", "/api/v1/users"): {ADMIN},
    ("GET", "/api/v1/audit"): {ADMIN},
    ("GET", "/api/v1/stations"): STAFF,
    ("POST", "/api/v1/stations"): {ADMIN},
    ("GET", "/api/v1/stations/{station_id}"): STAFF,
    ("GET", "/api/v1/nodes"): STAFF,
    ("POST", "/api/v1/nodes"): {ADMIN},
    ("GET", "/api/v1/nodes/{node_id}"): STAFF | {NODE},
    ("POST", "/api/v1/nodes/{node_id}/credentials"): {ADMIN},
    ("DELETE", "/api/v1/nodes/{node_id}/credentials"): {ADMIN},
    ("POST", "/api/v1/nodes/{node_id}/enrolment"): {ADMIN},
    ("POST", "/api/v1/enrol"): PUBLIC,
    ("GET", "/api/v1/broker/password-file"): {ADMIN},
    ("POST", "/api/v1/nodes/{node_id}/commands"): STAFF,
    ("GET", "/api/v1/nodes/{node_id}/commands"): STAFF | {NODE},
    ("GET", "/api/v1/events"): STAFF,
    ("GET", "/api/v1/events/{event_id}/snapshot"): STAFF | {NODE},
    ("GET", "/api/v1/visits"): STAFF,
    ("GET", "/api/v1/alerts"): STAFF,
    ("GET", "/api/v1/alerts/feed"): STAFF,
    ("GET", "/api/v1/alerts/{alert_id}"): STAFF,
    ("GET", "/api/v1/alerts/{alert_id}/actions"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/verdict"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/snooze"): STAFF,
    ("GET", "/api/v1/alerts/{alert_id}/deliveries"): STAFF,
    ("GET", "/api/v1/rotations"): STAFF,
    ("POST", "/api/v1/rotations"): {ADMIN},
    ("POST", "/api/v1/rotations/{rotation_id}/overrides"): {ADMIN},
    ("GET", "/api/v1/rosters/on-duty"): STAFF,
    ("GET", "/api/v1/rosters/gaps"): STAFF,
    ("POST", "/api/v1/escalation-policies"): {ADMIN},
    ("POST", "/api/v1/members"): {ADMIN, MANAGER},
    ("GET", "/api/v1/members/{member_id}"): STAFF | {MEMBER},
    ("PATCH", "/api/v1/members/{member_id}"): {ADMIN, MANAGER, MEMBER},
    ("DELETE", "/api/v1/members/{member_id}"): {ADMIN, MANAGER, MEMBER},
    ("GET", "/api/v1/members/{member_id}/consents"): STAFF | {MEMBER},
    ("POST", "/api/v1/members/{member_id}/consents"): {ADMIN, MANAGER, NODE},
    ("POST", "/api/v1/members/{member_id}/consents/{consent_id}/withdraw"): {
        ADMIN,
        MANAGER,
        MEMBER,
    },
    ("POST", "/api/v1/members/{member_id}/revoke"): STAFF,
    ("POST", "/api/v1/members/{member_id}/reinstate"): {ADMIN, MANAGER},
    ("POST", "/api/v1/members/{member_id}/tokens"): {ADMIN, MANAGER, MEMBER},
    ("GET", "/api/v1/members/{member_id}/qr.png"): {ADMIN, MANAGER, MEMBER},
    ("POST", "/api/v1/members/{member_id}/credential"): {ADMIN, MANAGER},
    ("GET", "/api/v1/members/{member_id}/page"): PUBLIC,
    ("GET", "/api/v1/members/{member_id}/export"): {ADMIN, MANAGER, MEMBER},
    ("GET", "/api/v1/erasures"): {ADMIN, MANAGER},
    ("GET", "/api/v1/withdrawals"): {ADMIN, MANAGER},
    ("POST", "/api/v1/members/{member_id}/cards"): {ADMIN, MANAGER},
    ("GET", "/api/v1/members/{member_id}/cards"): STAFF,
    ("GET", "/api/v1/members/{member_id}/cards/{card_id}/card.png"): {ADMIN, MANAGER},
    ("POST", "/api/v1/members/{member_id}/cards/{card_id}/revoke"): STAFF,
    ("GET", "/api/v1/stations/{station_id}/occupancy"): STAFF,
    ("GET", "/api/v1/entry/sync"): {ADMIN, NODE},
    ("POST", "/api/v1/entry/deletions"): {NODE},
    ("GET", "/api/v1/consent-texts"): PUBLIC,
    ("GET", "/api/v1/consent-texts/{kind}/{version}"): PUBLIC,
    ("GET", "/api/v1/stats/overview"): STAFF,
    ("GET", "/api/v1/stations/{station_id}/stats"): STAFF,
    ("GET", "/api/v1/stations/{station_id}/stats/occupancy"): STAFF,
    ("GET", "/api/v1/stats/daily"): STAFF,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): {ADMIN, MONITOR},
    ("GET", "/api/v1/models"): STAFF,
    ("POST", "/api/v1/models"): {ADMIN},
    ("PUT", "/api/v1/models/{version_id}/weights"): {ADMIN},
    ("GET", "/api/v1/models/{version_id}/weights"): {ADMIN, NODE},
    ("POST", "/api/v1/models/{version_id}/rollout"): {ADMIN},
    ("GET", "/api/v1/nodes/{node_id}/models"): STAFF | {NODE},
    ("GET", "/api/v1/fleet/models"): STAFF,
    # Provider callbacks carry no staff token: each checks the provider's callback key itself.
    ("POST", "/api/v1/providers/aliyun/sms-reports"): PUBLIC,
    ("POST", "/api/v1/providers/aliyun/sms-replies"): PUBLIC,
    ("POST", "/api/v1/providers/aliyun/voice-reports"): PUBLIC,
    ("POST", "/api/v1/providers/tencent/sms-status"): PUBLIC,
    ("POST", "/api/v1/providers/tencent/sms-replies"): PUBLIC,
    ("POST", "/api/v1/providers/tencent/voice"): PUBLIC,
}


@dataclass
class Site:
    """A cloud-duty with stations A (st-1) and B (st-2), and station A's things."""

    api: TestClient
    params: dict[str, str]
    tokens: dict[str, str]

    def denied(self) -> int:
        with Session(services_of(self.api.app).engine) as session:  # type: ignore[arg-type]
            query = select(func.count()).where(col(AuditEntry.outcome) == "denied")
            return int(session.exec(query).one())


def _login(api: TestClient, username: str) -> str:
    answer = api.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@pytest.fixture
def site(tmp_path: Path, clock: ManualClock) -> Iterator[Site]:
    settings = DutySettings(
        database_url=f"sqlite:///{tmp_path / 'duty.sqlite'}",
        api_token=TOKEN,
        metrics_token=SCRAPE_TOKEN,
        admin_password=PASSWORD,
        key_file=str(tmp_path / "keys.json"),
        snapshot_dir=str(tmp_path / "snaps"),
        start_ingest=False,
        start_scheduler=False,
    )
    app = create_app(settings, clock)
    service = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app) as api:
        services = services_of(app)
        with Session(services.engine) as session:
            for station, node in (("st-1", "node-1"), ("st-2", "node-2")):
                create_station(session, StationCreate(id=station, name=station))
                create_node(session, NodeCreate(id=node, station_id=station))
        ok, jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
        assert ok
        services.snapshots.save("node-1", "ev-1", jpeg.tobytes())
        services.pipeline.process([inbound(event("ev-1", clock.now()))])
        alert_id = api.get("/api/v1/alerts", headers=service).json()["items"][0]["id"]
        for username, role, stations in (("li", "duty", []), ("wang", "manager", ["st-1"])):
            body = {"username": username, "password": PASSWORD, "role": role}
            api.post("/api/v1/users", json={**body, "station_ids": stations}, headers=service)
        member_body = {"occupation": "courier", "station_id": "st-1"}
        member = api.post("/api/v1/members", json=member_body, headers=service).json()["id"]
        consent = {"kind": "face", "text_version": "v1", "station_id": "st-1"}
        consent_id = api.post(
            f"/api/v1/members/{member}/consents", json=consent, headers=service
        ).json()["id"]
        card_id = api.post(
            f"/api/v1/members/{member}/cards", json={"station_id": "st-1"}, headers=service
        ).json()["id"]
        rotation = {"name": "l1", "level": 1, "members": ["li"], "starts_on": "2026-01-01"}
        rotation_id = api.post("/api/v1/rotations", json=rotation, headers=service).json()["id"]
        node_token = api.post("/api/v1/nodes/node-1/credentials", headers=service).json()
        credential = api.post(
            f"/api/v1/members/{member}/credential", json={"scopes": ["st-1"]}, headers=service
        ).json()
        tokens = {
            ADMIN: _login(api, "admin"),
            DUTY: _login(api, "li"),
            MANAGER: _login(api, "wang"),
            NODE: node_token["api_token"],
            MEMBER: credential["credential"],
            MONITOR: SCRAPE_TOKEN,
        }
        params = {
            "alert_id": str(alert_id),
            "event_id": "ev-1",
            "node_id": "node-1",
            "station_id": "st-1",
            "member_id": member,
            "consent_id": str(consent_id),
            "card_id": card_id,
            "rotation_id": str(rotation_id),
            "kind": "face",
            "version": "v1",
            "version_id": "no-such-model",
        }
        yield Site(api, params, tokens)


BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/auth/login"): {"username": "nobody", "password": "x" * 12},
    ("POST", "/api/v1/users"): {"username": "zhao", "password": PASSWORD, "role": "duty"},
    ("PATCH", "/api/v1/auth/me"): {"language": "en"},
    ("POST", "/api/v1/stations"): {"id": "st-1", "name": "st-1"},
    ("POST", "/api/v1/nodes"): {"id": "node-1", "station_id": "st-1"},
    ("POST", "/api/v1/enrol"): {"code": "AAAA-BBBB-CCCC-DDDD"},
    ("POST", "/api/v1/nodes/{node_id}/commands"): {"name": "unlock", "reason": "locked out"},
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): {},
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): {},
    ("POST", "/api/v1/alerts/{alert_id}/verdict"): {"verdict": "confirmed"},
    ("POST", "/api/v1/alerts/{alert_id}/snooze"): {"minutes": 5},
    ("POST", "/api/v1/rotations"): {
        "name": "x",
        "level": 2,
        "members": [],
        "starts_on": "2026-01-01",
    },
    ("POST", "/api/v1/rotations/{rotation_id}/overrides"): {
        "username": "li",
        "starts_at": "2026-11-23T00:00:00Z",
        "ends_at": "2026-11-24T00:00:00Z",
    },
    ("POST", "/api/v1/escalation-policies"): {"name": "p", "steps": [{"level": 1, "wait_s": 60}]},
    ("POST", "/api/v1/members"): {"occupation": "rider", "station_id": "st-1"},
    ("PATCH", "/api/v1/members/{member_id}"): {"occupation": "rider"},
    ("POST", "/api/v1/members/{member_id}/consents"): {
        "kind": "face",
        "text_version": "v1",
        "station_id": "st-1",
    },
    ("POST", "/api/v1/members/{member_id}/tokens"): {"scopes": ["st-1"]},
    ("POST", "/api/v1/members/{member_id}/credential"): {"scopes": ["st-1"]},
    ("POST", "/api/v1/members/{member_id}/cards"): {"station_id": "st-1"},
    ("POST", "/api/v1/members/{member_id}/cards/{card_id}/revoke"): {"reason": "lost"},
    ("POST", "/api/v1/entry/deletions"): {"member_ids": []},
    ("POST", "/api/v1/models"): {
        "id": "m-1",
        "sha256": "0" * 64,
        "classes": ["person"],
    },
    ("POST", "/api/v1/models/{version_id}/rollout"): {"stage": "all"},
    ("POST", "/api/v1/providers/aliyun/sms-reports"): [],
    ("POST", "/api/v1/providers/aliyun/sms-replies"): [],
    ("POST", "/api/v1/providers/aliyun/voice-reports"): [],
    ("POST", "/api/v1/providers/tencent/sms-status"): [],
    ("POST", "/api/v1/providers/tencent/sms-replies"): {"mobile": "1", "text": "1"},
    ("POST", "/api/v1/providers/tencent/voice"): {},
}
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/api/v1/members/{member_id}/qr.png"): {"scope": "st-1"},
    ("GET", "/api/v1/rosters/on-duty"): {"station_id": "st-1"},
}


def _order(route: tuple[str, str]) -> tuple[int, str]:
    """Reads first, then changes, erasure and revocation after them, sign-out last."""
    method, path = route
    if path == "/api/v1/auth/logout":
        return (9, path)
    if method == "DELETE":
        return (8 if path == "/api/v1/members/{member_id}" else 7, path)
    return (0 if method == "GET" else 5, path)


def _call(site: Site, role: str, method: str, path: str) -> tuple[int, bool]:
    """The status, and whether access control refused the call: 403, or a 401 with the
    bearer challenge (a public route's own 401, e.g. a wrong password, has none)."""
    url = path.format(**site.params)
    headers = {"Authorization": f"Bearer {site.tokens[role]}"} if role != ANON else {}
    body = BODIES.get((method, path))
    query = QUERIES.get((method, path))
    if path.endswith("/alerts/feed"):
        with site.api.stream(method, url, headers=headers, params=query) as streamed:
            response = streamed
    else:
        response = site.api.request(method, url, headers=headers, json=body, params=query)
    challenged = response.status_code == 401 and "www-authenticate" in response.headers
    return response.status_code, response.status_code == 403 or challenged


def test_every_route_declares_its_roles_in_the_schema(site: Site) -> None:
    schema = site.api.get("/openapi.json").json()
    declared = {
        (method.upper(), path): set(operation["x-roles"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert set(declared) == set(ROUTES), "a route was added or removed: declare its roles here"
    for route, roles in declared.items():
        expected = {"public"} if ROUTES[route] == PUBLIC else ROUTES[route]
        assert roles == expected, route
    member_route = schema["paths"]["/api/v1/members/{member_id}"]["get"]
    assert "Roles: admin, duty, manager, member." in member_route["description"]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_routes(site: Site, role: str) -> None:
    wrong: list[str] = []
    for method, path in sorted(ROUTES, key=_order):
        before = site.denied()
        status, refused = _call(site, role, method, path)
        if refused == (role in ROUTES[(method, path)]):
            wrong.append(f"{method} {path}: {status}")
        if status == 403:
            assert site.denied() > before, f"{method} {path} refused {role} unaudited"
    assert wrong == [], f"{role} admitted or refused against the table"
