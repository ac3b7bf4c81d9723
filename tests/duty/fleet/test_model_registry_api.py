"""The model registry over HTTP: register, upload (hash checked), canary then all, a node
reading and downloading only what it is told to run, and the fleet table from heartbeats."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient

from station.contracts import RunningModel
from tests.duty.conftest import AUTH, ManualClock, duty_services, register
from tests.duty.messages import health, inbound

WEIGHTS = b"not really a model, but bytes with a hash" * 100
SHA = hashlib.sha256(WEIGHTS).hexdigest()
OCTETS = {**AUTH, "Content-Type": "application/octet-stream"}


def _node_headers(api: TestClient, node_id: str) -> dict[str, str]:
    issued = api.post(f"/api/v1/nodes/{node_id}/credentials", headers=AUTH).json()
    return {"Authorization": f"Bearer {issued['api_token']}"}


def _beat(api: TestClient, clock: ManualClock, node: str, running: RunningModel) -> None:
    beat = health(clock.now(), node).model_copy(update={"models": [running]})
    duty_services(api).pipeline.process([inbound(beat)])


def test_register_upload_canary_promote_and_the_fleet_table(
    api: TestClient, clock: ManualClock
) -> None:
    register(duty_services(api).engine, "st-2", "node-2")
    body = {
        "id": "fall-v2",
        "sha256": SHA,
        "classes": ["Normal", "Fall"],
        "format": "pt",
        "report": {"no_worse": True},
    }
    assert api.post("/api/v1/models", json=body, headers=AUTH).status_code == 201
    # Not rolled out before its weights are there; wrong weights are refused and change nothing.
    early = api.post("/api/v1/models/fall-v2/rollout", json={"stage": "all"}, headers=AUTH)
    assert early.status_code == 409
    wrong = api.put("/api/v1/models/fall-v2/weights", content=b"other", headers=OCTETS)
    assert wrong.status_code == 422
    put = api.put("/api/v1/models/fall-v2/weights", content=WEIGHTS, headers=OCTETS)
    assert put.json()["size"] == len(WEIGHTS)

    canary = {"stage": "canary", "node_ids": ["node-1"]}
    assert api.post("/api/v1/models/fall-v2/rollout", json=canary, headers=AUTH).json() == [
        "node-1"
    ]
    one, two = _node_headers(api, "node-1"), _node_headers(api, "node-2")
    [wanted] = api.get("/api/v1/nodes/node-1/models", headers=one).json()
    assert (wanted["version"], wanted["sha256"], wanted["slot"]) == ("fall-v2", SHA, "detector")
    got = api.get("/api/v1/models/fall-v2/weights", headers=one)
    assert (got.content, got.headers["x-model-sha256"]) == (WEIGHTS, SHA)
    # node-2 is not in the canary group: nothing to read, nothing to download.
    assert api.get("/api/v1/nodes/node-2/models", headers=two).json() == []
    assert api.get("/api/v1/models/fall-v2/weights", headers=two).status_code == 404
    assert api.get("/api/v1/nodes/node-1/models", headers=two).status_code == 403

    assert api.post("/api/v1/models/fall-v2/rollout", json={"stage": "all"}, headers=AUTH).json()
    assert api.get("/api/v1/models/fall-v2/weights", headers=two).content == WEIGHTS
    _beat(api, clock, "node-1", RunningModel(slot="detector", version="fall-v2", sha256=SHA))
    reason = "fps 0.9 < 0.5 x 2.0 before"
    rolled = RunningModel(slot="detector", rolled_back_from="fall-v2", rollback_reason=reason)
    _beat(api, clock, "node-2", rolled)

    table = {r["node_id"]: r for r in api.get("/api/v1/fleet/models", headers=AUTH).json()}
    assert (table["node-1"]["state"], table["node-1"]["running"]) == ("running", "fall-v2")
    assert (table["node-2"]["state"], table["node-2"]["rollback_reason"]) == ("rolled_back", reason)
    [version] = api.get("/api/v1/models", headers=AUTH).json()
    assert (version["stage"], version["assigned"], version["running"]) == ("all", 2, 1)
    assert version["rolled_back"] == 1
    assert version["report"] == {"no_worse": True}
