"""The REST API through HTTP: auth, registration, paging and filters, alert actions."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from station.contracts import Event, EventKind, EventPhase
from tests.duty.conftest import AUTH, ManualClock, duty_services, user_headers
from tests.duty.messages import event, inbound


def _ingest(api: TestClient, *messages: Event) -> None:
    duty_services(api).pipeline.process([inbound(m) for m in messages])


def test_api_refuses_missing_or_wrong_token(api: TestClient) -> None:
    assert api.get("/api/v1/alerts").status_code == 401
    bad = api.get("/api/v1/alerts", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert api.get("/api/v1/alerts", headers=AUTH).status_code == 200


def test_registration_is_idempotent_and_conflicts_are_refused(api: TestClient) -> None:
    body = {"id": "st-2", "name": "North gate", "region": "north", "capacity": 8}
    assert api.post("/api/v1/stations", json=body, headers=AUTH).status_code == 201
    assert api.post("/api/v1/stations", json=body, headers=AUTH).status_code == 201
    other = {**body, "name": "Elsewhere"}
    assert api.post("/api/v1/stations", json=other, headers=AUTH).status_code == 409
    bad_id = api.post("/api/v1/stations", json={**body, "id": "../x"}, headers=AUTH)
    assert bad_id.status_code == 422
    extra = api.post("/api/v1/stations", json={**body, "owner": "x"}, headers=AUTH)
    assert extra.status_code == 422
    orphan = {"id": "node-9", "station_id": "st-missing"}
    assert api.post("/api/v1/nodes", json=orphan, headers=AUTH).status_code == 409
    page = api.get("/api/v1/stations", params={"region": "north"}, headers=AUTH).json()
    assert [s["id"] for s in page["items"]] == ["st-2"]
    assert api.get("/api/v1/nodes/node-404", headers=AUTH).status_code == 404


def test_alerts_page_filter_and_act(api: TestClient, clock: ManualClock) -> None:
    t = clock.now()
    _ingest(
        api,
        event("ev-1", t),
        event("ev-2", t + timedelta(seconds=1), kind=EventKind.FIRE),
        event("ev-3", t + timedelta(seconds=2), kind=EventKind.SMOKE),
    )
    page = api.get("/api/v1/alerts", params={"limit": 2}, headers=AUTH).json()
    assert (page["total"], len(page["items"])) == (3, 2)
    assert [a["kind"] for a in page["items"]] == ["smoke", "fire"]
    fire = api.get("/api/v1/alerts", params={"kind": "fire"}, headers=AUTH).json()["items"][0]
    li = user_headers(api, "li", "duty")

    ack = api.post(f"/api/v1/alerts/{fire['id']}/acknowledge", json={}, headers=li)
    assert ack.status_code == 200
    assert ack.json()["acknowledged_by"] == "li"
    again = api.post(f"/api/v1/alerts/{fire['id']}/acknowledge", json={}, headers=li)
    assert again.status_code == 409
    done = api.post(f"/api/v1/alerts/{fire['id']}/resolve", json={"note": "drill"}, headers=li)
    assert done.json()["status"] == "resolved"
    trail = api.get(f"/api/v1/alerts/{fire['id']}/actions", headers=AUTH).json()
    assert [(a["action"], a["actor"]) for a in trail] == [
        ("opened", "system"),
        ("acknowledged", "li"),
        ("resolved", "li"),
    ]
    assert api.post("/api/v1/alerts/999/resolve", json={}, headers=li).status_code == 404
    open_only = api.get("/api/v1/alerts", params={"status": "open"}, headers=AUTH).json()
    assert open_only["total"] == 2

    # A fire soon after resolution reopens that alert; much later it is a fresh one.
    _ingest(api, event("ev-4", t + timedelta(minutes=5), kind=EventKind.FIRE))
    fires = api.get("/api/v1/alerts", params={"kind": "fire"}, headers=AUTH).json()["items"]
    assert [(a["status"], a["reopened"], a["count"]) for a in fires] == [("open", 1, 2)]
    api.post(f"/api/v1/alerts/{fire['id']}/resolve", json={}, headers=li)
    _ingest(api, event("ev-5", t + timedelta(hours=2), kind=EventKind.FIRE))
    fires = api.get("/api/v1/alerts", params={"kind": "fire"}, headers=AUTH).json()["items"]
    assert [a["status"] for a in fires] == ["open", "resolved"]


def test_events_and_filters(api: TestClient, clock: ManualClock) -> None:
    t = clock.now()
    _ingest(api, event("ev-1", t), event("ev-1", t + timedelta(seconds=4), EventPhase.END, seq=1))
    _ingest(api, event("ev-2", t + timedelta(hours=1), kind=EventKind.SMOKE))
    since = (t + timedelta(minutes=30)).isoformat()
    page = api.get("/api/v1/events", params={"since": since}, headers=AUTH).json()
    assert [e["id"] for e in page["items"]] == ["ev-2"]
    ended = api.get("/api/v1/events", params={"kind": "fall"}, headers=AUTH).json()["items"][0]
    assert ended["ended_at"] is not None
    bad = api.get("/api/v1/events", params={"limit": 5000}, headers=AUTH)
    assert bad.status_code == 422
    visits = api.get("/api/v1/visits", headers=AUTH).json()
    assert visits == {"items": [], "total": 0, "limit": 50, "offset": 0}
