"""Attacks on a running cloud-duty: each is refused, and each refusal is in the audit log.

- a node's credential reaching another station's snapshots, commands or node;
- a manager reading, withdrawing or erasing another station's member;
- a forged, tampered, expired or borrowed member credential;
- login brute force (lockout with a doubling backoff);
- a sign-in token replayed after sign-out, and one past its expiry;
- a node enrolled with its one-time code (spent after one use), whose configuration refuses
  any token that is not its own node credential.
"""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from edge.config import load_config
from edge.errors import ConfigError
from station.cli.main import main
from station.contracts import EventKind, NodeTopics, TopicKind, utcnow
from station.duty.people.keys import read_key_file
from station.tokens import TokenSigner, new_private_key
from tests.duty.messages import event
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until

pytestmark = pytest.mark.integration

PASSWORD = "a-long-password-123"
LOCKOUT_S = 3
TTL_S = 14.4


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str, tmp_path: Path) -> Iterator[DutyServer]:
    server = DutyServer(
        pg_url,
        broker.port,
        key_file=str(tmp_path / "keys.json"),
        snapshot_dir=str(tmp_path / "snaps"),
        login_max_failures=3,
        # Short enough to watch expire, long enough that a loaded CI machine stays inside them.
        login_lockout_s=LOCKOUT_S,
        login_ttl_h=TTL_S / 3600,
    ).start()
    server.register("st-1", "node-1")
    server.register("st-2", "node-2")
    with server.client() as http:
        for username, role, stations in (("wang", "manager", ["st-1"]), ("li", "duty", [])):
            body = {"username": username, "password": PASSWORD, "role": role}
            http.post("/api/v1/users", json={**body, "station_ids": stations}).raise_for_status()
    yield server
    server.stop()


def _bearer(duty: DutyServer, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=duty.url, headers=headers, timeout=10)


def _login(duty: DutyServer, username: str, password: str = PASSWORD) -> httpx.Response:
    with httpx.Client(base_url=duty.url, timeout=10) as http:
        return http.post("/api/v1/auth/login", json={"username": username, "password": password})


def _denied(duty: DutyServer, **params: str) -> list[dict[str, Any]]:
    with duty.client() as http:
        page = http.get("/api/v1/audit", params={"outcome": "denied", "limit": 500, **params})
    return list(page.json()["items"])


def _publish_event_with_snapshot(duty: DutyServer, node: str, event_id: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    jpeg = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
    topics = NodeTopics(node)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{event_id}")
    pub.connect("127.0.0.1", duty.settings.mqtt_port)
    pub.loop_start()
    pub.publish(topics.snapshot(event_id), jpeg, qos=1).wait_for_publish(5)
    fire = event(event_id, utcnow(), kind=EventKind.FIRE, node=node)
    pub.publish(topics.topic(TopicKind.EVENT), fire.to_payload(), qos=1).wait_for_publish(5)
    pub.loop_stop()
    pub.disconnect()


def test_a_node_credential_reaches_only_its_own_station(duty: DutyServer) -> None:
    _publish_event_with_snapshot(duty, "node-1", "ev-own")
    _publish_event_with_snapshot(duty, "node-2", "ev-other")
    with duty.client() as admin:
        wait_until(lambda: admin.get("/api/v1/events").json()["total"] == 2, 30, "the events")
        wait_until(
            lambda: admin.get("/api/v1/events/ev-other/snapshot").status_code == 200,
            30,
            "the snapshot",
        )
        member = admin.post("/api/v1/members", json={"station_id": "st-2"}).json()["id"]
    token = duty.node_token("node-1")
    with _bearer(duty, token) as node:
        assert node.get("/api/v1/entry/sync").status_code == 200
        assert node.get("/api/v1/events/ev-own/snapshot").status_code == 200
        assert node.get("/api/v1/nodes/node-1/commands").status_code == 200
        assert node.get("/api/v1/events/ev-other/snapshot").status_code == 403
        assert node.get("/api/v1/nodes/node-2/commands").status_code == 403
        assert node.get("/api/v1/nodes/node-2").status_code == 403
        consent = {"kind": "face", "text_version": "v1", "station_id": "st-2"}
        assert node.post(f"/api/v1/members/{member}/consents", json=consent).status_code == 403
        for path in ("/api/v1/alerts", "/api/v1/visits", f"/api/v1/members/{member}"):
            assert node.get(path).status_code == 403, path
        assert node.get("/api/v1/audit").status_code == 403
        assert node.post("/api/v1/nodes/node-1/credentials").status_code == 403
    denied = {(d["action"], d["target"]) for d in _denied(duty, actor="node:node-1")}
    assert {("read snapshot", "event ev-other"), ("read commands", "node node-2")} <= denied

    rotated = duty.node_token("node-1")
    with _bearer(duty, token) as old, _bearer(duty, rotated) as new:
        assert old.get("/api/v1/entry/sync").status_code == 401  # rotated: the old one is dead
        assert new.get("/api/v1/entry/sync").status_code == 200
        with duty.client() as admin:
            assert admin.delete("/api/v1/nodes/node-1/credentials").status_code == 204
        assert new.get("/api/v1/entry/sync").status_code == 401  # revoked
    assert _denied(duty, actor="node-credential")


def test_a_manager_cannot_reach_another_stations_member(duty: DutyServer) -> None:
    with duty.client() as admin:
        theirs = admin.post("/api/v1/members", json={"station_id": "st-2"}).json()["id"]
        consent = {"kind": "face", "text_version": "v1", "station_id": "st-2"}
        consent_id = admin.post(f"/api/v1/members/{theirs}/consents", json=consent).json()["id"]
    wang = _login(duty, "wang").json()["access_token"]
    with _bearer(duty, wang) as manager:
        mine = manager.post("/api/v1/members", json={"station_id": "st-1"})
        assert mine.status_code == 201
        assert manager.get(f"/api/v1/members/{mine.json()['id']}").status_code == 200
        assert manager.post("/api/v1/members", json={"station_id": "st-2"}).status_code == 403
        assert manager.post("/api/v1/members", json={}).status_code == 403
        refused = [
            manager.get(f"/api/v1/members/{theirs}"),
            manager.get(f"/api/v1/members/{theirs}/consents"),
            manager.get(f"/api/v1/members/{theirs}/export"),
            manager.patch(f"/api/v1/members/{theirs}", json={"occupation": "x"}),
            manager.post(f"/api/v1/members/{theirs}/consents/{consent_id}/withdraw"),
            manager.post(f"/api/v1/members/{theirs}/revoke"),
            manager.post(f"/api/v1/members/{theirs}/reinstate"),
            manager.post(f"/api/v1/members/{theirs}/tokens", json={"scopes": ["st-1"]}),
            manager.post(f"/api/v1/members/{theirs}/credential", json={"scopes": ["st-1"]}),
            manager.delete(f"/api/v1/members/{theirs}"),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
    denied = {d["target"] for d in _denied(duty, actor="wang")}
    assert f"member {theirs}" in denied
    with duty.client() as admin:
        assert admin.get(f"/api/v1/members/{theirs}").status_code == 200  # untouched


def test_forged_tampered_expired_or_borrowed_member_credentials_are_refused(
    duty: DutyServer,
) -> None:
    with duty.client() as admin:
        mine = admin.post("/api/v1/members", json={"station_id": "st-1"}).json()["id"]
        other = admin.post("/api/v1/members", json={"station_id": "st-1"}).json()["id"]
        issued = admin.post(f"/api/v1/members/{mine}/credential", json={"scopes": ["st-1"]})
        credential = issued.json()["credential"]
        entry_token = admin.post(f"/api/v1/members/{mine}/tokens", json={"scopes": ["st-1"]})
    now = datetime.now(UTC)
    forged, _ = TokenSigner(new_private_key()).issue_member_credential(mine, ["st-1"], now, 600)
    head, body, signature = credential.split(".")
    claims = json.loads(_unb64(body))
    widened = _b64(json.dumps({**claims, "s": ["st-1", "st-2"]}).encode())
    real_key = read_key_file(Path(duty.settings.key_file), strict=True).signing_keys[0]
    expired, _ = TokenSigner(real_key).issue_member_credential(
        mine, ["st-1"], now - timedelta(hours=2), 3600
    )
    qr = f"/api/v1/members/{mine}/qr.png"
    for bad in (forged, f"{head}.{widened}.{signature}", expired, entry_token.json()["token"]):
        with _bearer(duty, bad) as phone:
            assert phone.get(qr, params={"scope": "st-1"}).status_code == 401
    with _bearer(duty, credential) as phone:
        assert phone.get(qr, params={"scope": "st-1"}).status_code == 200
        assert phone.get(f"/api/v1/members/{mine}/export").status_code == 200
        assert phone.get(f"/api/v1/members/{other}").status_code == 403  # someone else's
        assert (
            phone.get(f"/api/v1/members/{other}/qr.png", params={"scope": "st-1"}).status_code
            == 403
        )
        assert phone.get("/api/v1/alerts").status_code == 403  # nothing of the staff's
        assert phone.post("/api/v1/auth/logout").status_code == 403
        assert phone.delete(f"/api/v1/members/{mine}").status_code == 200  # erasure, by themselves
        assert phone.get(f"/api/v1/members/{mine}/export").status_code == 401  # gone
    reasons = {d["detail"].split(":")[0] for d in _denied(duty, actor="member-credential")}
    assert {"forged", "expired"} <= reasons


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_login_brute_force_is_locked_out_with_a_doubling_backoff(duty: DutyServer) -> None:
    assert [_login(duty, "li", f"guess-{i}-xxxx").status_code for i in range(3)] == [401] * 3
    locked = _login(duty, "li")  # the right password, during the lockout
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    time.sleep(LOCKOUT_S * 1.2)
    assert _login(duty, "li").status_code == 200  # the lockout ended; success forgets it
    assert [_login(duty, "ghost", f"guess-{i}-xxxx").status_code for i in range(3)] == [401] * 3
    assert _login(duty, "ghost", "still-guessing").status_code == 429  # unknown users too
    time.sleep(LOCKOUT_S * 1.2)
    assert [_login(duty, "ghost", f"again-{i}-xxxx").status_code for i in range(3)] == [401] * 3
    time.sleep(LOCKOUT_S * 1.2)
    assert _login(duty, "ghost", "x" * 12).status_code == 429  # the second lockout is twice as long
    details = [d["detail"] for d in _denied(duty, actor="ghost")]
    assert sum(d.startswith("locked out") for d in details) == 2
    assert sum(d == "wrong password" for d in details) == 6


def test_a_token_replayed_after_sign_out_or_expiry_is_refused_and_audited(
    duty: DutyServer,
) -> None:
    token = _login(duty, "li").json()["access_token"]
    with _bearer(duty, token) as li:
        assert li.get("/api/v1/auth/me").json()["username"] == "li"
        assert li.post("/api/v1/auth/logout").status_code == 204
        assert li.get("/api/v1/alerts").status_code == 401
        assert li.get("/api/v1/auth/me").status_code == 401
    replays = [d for d in _denied(duty, actor="li") if d["detail"] == "token used after sign-out"]
    assert len(replays) == 2
    fresh = _login(duty, "li").json()
    expires_at = datetime.fromisoformat(fresh["expires_at"])
    assert expires_at <= datetime.now(UTC) + timedelta(seconds=TTL_S)
    with _bearer(duty, fresh["access_token"]) as li:
        assert li.get("/api/v1/alerts").status_code == 200
        time.sleep(TTL_S + 0.5)
        assert li.get("/api/v1/alerts").status_code == 401  # expired


def test_a_node_enrols_once_and_its_config_refuses_other_tokens(
    duty: DutyServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UWS_API_TOKEN", duty.settings.api_token.get_secret_value())
    assert main(["node", "enrolment", "node-1", "--url", duty.url]) == 0
    code = json.loads(capsys.readouterr().out)["code"]
    out = tmp_path / "etc" / "node-credentials.yaml"
    assert main(["edge", "enrol", "--code", code, "--duty-url", duty.url, "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    held = yaml.safe_load(out.read_text())
    assert held["duty_token"].startswith("uwsn_")
    assert held["node_id"] == "node-1"
    again = tmp_path / "again.yaml"
    assert main(["edge", "enrol", "--code", code, "--duty-url", duty.url, "--out", str(again)]) == 2
    assert not again.exists()  # the code is spent
    assert _denied(duty, actor="enrolment")

    node_yaml = tmp_path / "node.yaml"
    config: dict[str, Any] = {
        "credentials": str(out),
        "camera": {"source": "0"},
        "detector": {"model": "m.pt"},
        "devices": {"broker": {"host": "127.0.0.1"}},
        "entry": {"policy": {"state_path": "entry.sqlite"}},
    }
    node_yaml.write_text(yaml.safe_dump(config))
    loaded = load_config(node_yaml)
    assert loaded.node_id == "node-1"
    assert loaded.cloud.username == "node-1"
    assert loaded.entry is not None
    assert loaded.entry.policy.station_id == "st-1"
    with _bearer(duty, loaded.entry.duty_token.get_secret_value()) as node:
        assert node.get("/api/v1/entry/sync").json()["public_key"] == loaded.entry.policy.public_key
    # Model updates come from the cloud-duty it enrolled with, with its own credential.
    assert loaded.rollout is not None
    assert loaded.rollout.duty_url == duty.url
    assert loaded.rollout.dir == tmp_path / "var" / "models"
    with _bearer(duty, loaded.rollout.duty_token.get_secret_value()) as node:
        assert node.get("/api/v1/nodes/node-1/models").json() == []

    service = {**config, "node_id": "node-1", "credentials": None}
    service["entry"] = {
        "policy": {"station_id": "st-1", "public_key": "A" * 43, "state_path": "e.sqlite"},
        "duty_url": duty.url,
        "duty_token": duty.settings.api_token.get_secret_value(),
    }
    node_yaml.write_text(yaml.safe_dump(service))
    with pytest.raises(ConfigError, match="never an admin, service or user token"):
        load_config(node_yaml)
    out.chmod(0o644)
    node_yaml.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="chmod 600"):
        load_config(node_yaml)
