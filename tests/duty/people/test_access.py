"""Users, roles and station scopes through the API, with every refusal in the audit log."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from station.contracts import EventKind
from station.duty.fleet.models import StationCreate
from station.duty.fleet.registry import create_station
from tests.duty.conftest import AUTH, ManualClock, duty_services, user_headers
from tests.duty.messages import event, inbound


def _audit(api: TestClient, **params: str) -> list[dict[str, object]]:
    page = api.get("/api/v1/audit", params={"limit": 500, **params}, headers=AUTH).json()
    return list(page["items"])


def _seed_two_stations(api: TestClient, clock: ManualClock) -> None:
    from sqlmodel import Session

    with Session(duty_services(api).engine) as session:
        create_station(session, StationCreate(id="st-2", name="Other station"))
    api.post("/api/v1/nodes", json={"id": "node-2", "station_id": "st-2"}, headers=AUTH)
    pipeline = duty_services(api).pipeline
    pipeline.process([inbound(event("ev-1", clock.now(), kind=EventKind.FIRE))])
    pipeline.process([inbound(event("ev-2", clock.now(), node="node-2"))])


def test_manager_sees_only_their_station_and_is_refused_elsewhere(
    api: TestClient, clock: ManualClock
) -> None:
    _seed_two_stations(api, clock)
    wang = user_headers(api, "wang", "manager", ("st-1",))
    mine = api.get("/api/v1/alerts", headers=wang).json()["items"]
    assert {a["station_id"] for a in mine} == {"st-1"}
    theirs = api.get("/api/v1/alerts", params={"station_id": "st-2"}, headers=AUTH).json()
    other_id = theirs["items"][0]["id"]

    assert api.get(f"/api/v1/alerts/{other_id}", headers=wang).status_code == 403
    ack = api.post(f"/api/v1/alerts/{other_id}/acknowledge", json={}, headers=wang)
    assert ack.status_code == 403
    assert api.get("/api/v1/stations/st-2", headers=wang).status_code == 403
    assert api.get("/api/v1/nodes/node-2", headers=wang).status_code == 403
    assert [s["id"] for s in api.get("/api/v1/stations", headers=wang).json()["items"]] == ["st-1"]
    assert (
        api.post("/api/v1/stations", json={"id": "x", "name": "x"}, headers=wang).status_code == 403
    )
    assert api.get("/api/v1/audit", headers=wang).status_code == 403

    denied = _audit(api, actor="wang", outcome="denied")
    assert {(d["action"], d["target"]) for d in denied} >= {
        ("read alert", f"alert {other_id}"),
        ("acknowledge", f"alert {other_id}"),
        ("read station", "station st-2"),
        ("read node", "node node-2"),
        ("POST /stations", "/api/v1/stations"),
        ("GET /audit", "/api/v1/audit"),
    }


def test_login_failures_are_refused_and_audited(api: TestClient) -> None:
    user_headers(api, "li", "duty")
    bad = api.post("/api/v1/auth/login", json={"username": "li", "password": "wrong-password"})
    assert bad.status_code == 401
    nobody = api.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever12"})
    assert nobody.status_code == 401
    assert {d["actor"] for d in _audit(api, outcome="denied")} == {"li", "ghost"}
    assert api.get("/api/v1/alerts", headers={"Authorization": "Bearer forged"}).status_code == 401
    weak = {"username": "zhao", "password": "short", "role": "duty"}
    assert api.post("/api/v1/users", json=weak, headers=AUTH).status_code == 422


def test_login_token_expires(api: TestClient, clock: ManualClock) -> None:
    li = user_headers(api, "li", "duty")
    assert api.get("/api/v1/auth/me", headers=li).json()["role"] == "duty"
    clock.advance(timedelta(hours=13).total_seconds())
    assert api.get("/api/v1/auth/me", headers=li).status_code == 401


def test_verdict_snooze_and_actions_are_audited(api: TestClient, clock: ManualClock) -> None:
    _seed_two_stations(api, clock)
    li = user_headers(api, "li", "duty")
    fire = api.get("/api/v1/alerts", params={"kind": "fire"}, headers=li).json()["items"][0]
    verdict = api.post(
        f"/api/v1/alerts/{fire['id']}/verdict",
        json={"verdict": "false_alarm", "note": "a red jacket"},
        headers=li,
    ).json()
    assert (verdict["verdict"], verdict["verdict_by"]) == ("false_alarm", "li")
    snoozed = api.post(f"/api/v1/alerts/{fire['id']}/snooze", json={"minutes": 15}, headers=li)
    assert snoozed.json()["snoozed_until"] is not None
    bad = api.post(f"/api/v1/alerts/{fire['id']}/verdict", json={"verdict": "maybe"}, headers=li)
    assert bad.status_code == 422
    actions = {(d["action"], d["detail"]) for d in _audit(api, actor="li")}
    assert ("verdict:false_alarm", "a red jacket") in actions
    assert ("snooze", "") in actions
    api.get("/api/v1/visits", headers=li)
    assert any(d["action"] == "read visits" for d in _audit(api, actor="li"))


def test_manager_issues_entry_codes_only_for_their_stations(
    api: TestClient, clock: ManualClock
) -> None:
    _seed_two_stations(api, clock)
    wang = user_headers(api, "wang", "manager", ("st-1",))
    body = {"occupation": "courier", "station_id": "st-1"}
    member = api.post("/api/v1/members", json=body, headers=wang).json()
    tokens = f"/api/v1/members/{member['id']}/tokens"
    assert api.post(tokens, json={"scopes": ["st-1"]}, headers=wang).status_code == 201
    assert api.post(tokens, json={"scopes": ["st-2"]}, headers=wang).status_code == 403
    assert api.post(tokens, json={"scopes": ["region:north"]}, headers=wang).status_code == 403
    qr = api.get(f"/api/v1/members/{member['id']}/qr.png", params={"scope": "st-2"}, headers=wang)
    assert qr.status_code == 403
    assert api.get("/api/v1/stations/st-2/occupancy", headers=wang).status_code == 403
    assert api.get("/api/v1/stations/st-1/occupancy", headers=wang).status_code == 200
    denied = {d["target"] for d in _audit(api, actor="wang", outcome="denied")}
    assert {"scope st-2", "scope region:north", "station st-2"} <= denied
