"""Face withdrawal is per station: a node deletes the templates of members with no active
face consent at its own station, and shared copies once the sharing consent is withdrawn;
a node at a station where the consent still stands keeps its template."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.duty.conftest import AUTH, duty_services, register


def _consent(api: TestClient, member: str, kind: str, station: str) -> int:
    body = {"kind": kind, "text_version": "v1", "station_id": station}
    answer = api.post(f"/api/v1/members/{member}/consents", json=body, headers=AUTH)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _withdraw(api: TestClient, member: str, consent_id: int) -> None:
    url = f"/api/v1/members/{member}/consents/{consent_id}/withdraw"
    assert api.post(url, headers=AUTH).status_code == 200


def test_face_withdrawal_is_per_station_and_ends_shared_copies(api: TestClient) -> None:
    register(duty_services(api).engine, "st-2", "node-2")
    nodes = {}
    for node in ("node-1", "node-2"):
        issued = api.post(f"/api/v1/nodes/{node}/credentials", headers=AUTH).json()
        nodes[node] = {"Authorization": f"Bearer {issued['api_token']}"}

    def withdrawn(headers: dict[str, str]) -> set[str]:
        answer = api.get("/api/v1/entry/sync", headers=headers)
        assert answer.status_code == 200, answer.text
        return set(answer.json()["face_withdrawn"])

    def member() -> str:
        body = {"occupation": "rider", "station_id": "st-1"}
        return str(api.post("/api/v1/members", json=body, headers=AUTH).json()["id"])

    both, shared, no_face = member(), member(), member()
    at_1 = _consent(api, both, "face", "st-1")
    _consent(api, both, "face", "st-2")
    _consent(api, shared, "face", "st-1")
    sharing = _consent(api, shared, "face_sharing", "st-1")
    assert withdrawn(nodes["node-1"]) == withdrawn(nodes["node-2"]) == set()

    _withdraw(api, both, at_1)  # withdrawn at st-1 only: st-2's node keeps its template
    assert withdrawn(nodes["node-1"]) == {both}
    assert withdrawn(nodes["node-2"]) == set()
    assert withdrawn(AUTH) == set()  # an admin's sync: still consented somewhere

    _withdraw(api, shared, sharing)  # the shared copy at st-2 goes, st-1's own stays
    assert withdrawn(nodes["node-1"]) == {both}
    assert withdrawn(nodes["node-2"]) == {shared}
    assert no_face not in withdrawn(nodes["node-1"]) | withdrawn(nodes["node-2"])
