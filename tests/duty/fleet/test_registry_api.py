"""Stations and nodes through HTTP: idempotent registration, conflicts, bad input, 404s."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.duty.conftest import AUTH


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
