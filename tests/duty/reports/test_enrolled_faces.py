"""The count of enrolled faces on the overview: the people whose templates the nodes may
hold (active face consents, shared templates, deletions not yet confirmed), network-wide for
admins and for a manager's own stations, against the 100,000 filing threshold."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from station.duty.reports.faces import enrolled_faces, face_filing
from tests.duty.conftest import AUTH, duty_services, register, user_headers


def _member(api: TestClient) -> str:
    body = {"occupation": "rider", "station_id": "st-1"}
    return str(api.post("/api/v1/members", json=body, headers=AUTH).json()["id"])


def _consent(api: TestClient, member: str, kind: str, station: str) -> int:
    body = {"kind": kind, "text_version": "v1", "station_id": station}
    answer = api.post(f"/api/v1/members/{member}/consents", json=body, headers=AUTH)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _faces(api: TestClient, headers: dict[str, str]) -> dict[str, object]:
    answer = api.get("/api/v1/stats/overview", headers=headers)
    assert answer.status_code == 200, answer.text
    faces: dict[str, object] = answer.json()["faces"]
    return faces


def test_enrolled_faces_count_each_person_once_within_the_callers_reach(api: TestClient) -> None:
    register(duty_services(api).engine, "st-2", "node-2")
    two_stations, withdrawn, shared, erased = (_member(api) for _ in range(4))
    _member(api)  # no face consent: not counted
    _consent(api, two_stations, "face", "st-1")
    _consent(api, two_stations, "face", "st-2")
    gone = _consent(api, withdrawn, "face", "st-1")
    api.post(f"/api/v1/members/{withdrawn}/consents/{gone}/withdraw", headers=AUTH)
    _consent(api, shared, "face", "st-2")
    _consent(api, shared, "face_sharing", "st-2")  # its template is on every node
    _consent(api, erased, "face", "st-1")
    assert api.delete(f"/api/v1/members/{erased}", headers=AUTH).status_code == 200
    manager_1 = user_headers(api, "wang", "manager", ("st-1",))
    manager_2 = user_headers(api, "zhao", "manager", ("st-2",))
    node = api.post("/api/v1/nodes/node-1/credentials", headers=AUTH).json()["api_token"]
    node_auth = {"Authorization": f"Bearer {node}"}

    # node-1 may still hold the withdrawn member's template until it confirms the deletion.
    assert _faces(api, AUTH)["enrolled"] == 4
    confirm = {"member_ids": [withdrawn], "reason": "withdrawal"}
    assert api.post("/api/v1/entry/deletions", json=confirm, headers=node_auth).status_code == 200
    network = _faces(api, AUTH)
    assert network == {"enrolled": 3, "threshold": 100_000, "warn_at": 80_000, "network": True}
    assert _faces(api, manager_1)["enrolled"] == 3  # st-1's own, the shared one, the erased
    assert _faces(api, manager_2) == {**network, "enrolled": 2, "network": False}

    # node-1 confirms the erased member's template deleted: no node may hold it any more.
    report = {"member_ids": [erased]}
    assert api.post("/api/v1/entry/deletions", json=report, headers=node_auth).status_code == 200
    assert _faces(api, AUTH)["enrolled"] == 2
    assert _faces(api, manager_1)["enrolled"] == 2
    with Session(duty_services(api).engine) as session:
        assert enrolled_faces(session, ["st-2"]) == 2
        filing = face_filing(session, None, threshold=5, warn_share=0.8)
    assert (filing.enrolled, filing.warn_at, filing.network) == (2, 4, True)
