"""Alerts and events through HTTP: paging, filters, actions, reopening."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from station.contracts import EventKind, EventPhase
from tests.duty.conftest import AUTH, ManualClock, ingest, user_headers
from tests.duty.messages import event


def test_alerts_page_filter_and_act(api: TestClient, clock: ManualClock) -> None:
    t = clock.now()
    ingest(
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
    ingest(api, event("ev-4", t + timedelta(minutes=5), kind=EventKind.FIRE))
    fires = api.get("/api/v1/alerts", params={"kind": "fire"}, headers=AUTH).json()["items"]
    assert [(a["status"], a["reopened"], a["count"]) for a in fires] == [("open", 1, 2)]
    api.post(f"/api/v1/alerts/{fire['id']}/resolve", json={}, headers=li)
    ingest(api, event("ev-5", t + timedelta(hours=2), kind=EventKind.FIRE))
    fires = api.get("/api/v1/alerts", params={"kind": "fire"}, headers=AUTH).json()["items"]
    assert [a["status"] for a in fires] == ["open", "resolved"]


def test_events_and_filters(api: TestClient, clock: ManualClock) -> None:
    t = clock.now()
    ingest(api, event("ev-1", t), event("ev-1", t + timedelta(seconds=4), EventPhase.END, seq=1))
    ingest(api, event("ev-2", t + timedelta(hours=1), kind=EventKind.SMOKE))
    since = (t + timedelta(minutes=30)).isoformat()
    page = api.get("/api/v1/events", params={"since": since}, headers=AUTH).json()
    assert [e["id"] for e in page["items"]] == ["ev-2"]
    ended = api.get("/api/v1/events", params={"kind": "fall"}, headers=AUTH).json()["items"][0]
    assert ended["ended_at"] is not None
    bad = api.get("/api/v1/events", params={"limit": 5000}, headers=AUTH)
    assert bad.status_code == 422
    visits = api.get("/api/v1/visits", headers=AUTH).json()
    assert visits == {"items": [], "total": 0, "limit": 50, "offset": 0}
