"""Face withdrawal is per station: a node deletes the templates of members with no active
face consent at its own station, and shared copies once the sharing consent is withdrawn;
a node at a station where the consent still stands keeps its template."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.duty.conftest import AUTH, duty_services, register, user_headers


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


def test_withdrawal_orders_reach_the_nodes_concerned_and_a_new_consent_cancels_them(
    api: TestClient,
) -> None:
    register(duty_services(api).engine, "st-2", "node-2")
    issued = api.post("/api/v1/nodes/node-1/credentials", headers=AUTH).json()
    node_1 = {"Authorization": f"Bearer {issued['api_token']}"}
    body = {"occupation": "rider", "station_id": "st-1"}
    member = str(api.post("/api/v1/members", json=body, headers=AUTH).json()["id"])
    at_1 = _consent(api, member, "face", "st-1")
    _consent(api, member, "face", "st-2")

    def orders(headers: dict[str, str]) -> list[tuple[str, str, bool]]:
        answer = api.get("/api/v1/withdrawals", headers=headers)
        assert answer.status_code == 200, answer.text
        return [(o["member_id"], o["node_id"], o["confirmed_at"] is None) for o in answer.json()]

    _withdraw(api, member, at_1)
    assert orders(AUTH) == [(member, "node-1", True)]
    assert orders(user_headers(api, "li", "manager", ("st-1",))) == [(member, "node-1", True)]
    assert orders(user_headers(api, "wang", "manager", ("st-2",))) == []
    sync = api.get("/api/v1/entry/sync", headers=node_1).json()
    assert sync["withdrawal_orders"] == [member]

    _consent(api, member, "face", "st-1")  # given again before node-1 acted: nothing to do
    assert orders(AUTH) == []
    assert api.get("/api/v1/entry/sync", headers=node_1).json()["withdrawal_orders"] == []
