"""Escalation steps as persistent APScheduler jobs on PostgreSQL: restarts and replicas."""

from __future__ import annotations

import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from station.contracts import EventKind, NodeTopics, TopicKind, utcnow
from tests.duty.messages import event
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until

pytestmark = pytest.mark.integration

FAST = {"liveness_check_s": 0.3}


def _prepare(duty: DutyServer, wait_s: float) -> None:
    duty.register("st-1", "node-1")
    with duty.client() as http:
        for level, person in ((1, "li"), (2, "wang")):
            rotation = {
                "name": f"level {level}",
                "level": level,
                "members": [person],
                "starts_on": "2026-01-01",
            }
            http.post("/api/v1/rotations", json=rotation).raise_for_status()
        policy = {
            "name": "fast",
            "steps": [{"level": 1, "wait_s": wait_s}, {"level": 2, "wait_s": wait_s}],
            "repeat": 0,
        }
        http.post("/api/v1/escalation-policies", json=policy).raise_for_status()


def _fire(port: int) -> None:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="esc-pub")
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    msg = event("ev-fire", utcnow(), kind=EventKind.FIRE)
    pub.publish(
        NodeTopics("node-1").topic(TopicKind.EVENT), msg.to_payload(), qos=1
    ).wait_for_publish(5)
    pub.loop_stop()


def _escalations(duty: DutyServer) -> list[dict[str, Any]]:
    with duty.client() as http:
        alerts = http.get("/api/v1/alerts", params={"kind": "fire"}).json()["items"]
        if not alerts:
            return []
        actions = http.get(f"/api/v1/alerts/{alerts[0]['id']}/actions").json()
    return [a for a in actions if a["action"].startswith("escalated")]


def test_escalation_survives_a_restart_of_cloud_duty(broker: MosquittoBroker, pg_url: str) -> None:
    first = DutyServer(pg_url, broker.port, **FAST).start()
    _prepare(first, wait_s=4)
    _fire(broker.port)
    wait_until(lambda: _escalations(first), 20, "the first step")
    first.stop()  # the second step is due in 4 s, while nothing runs
    time.sleep(5)
    second = DutyServer(pg_url, broker.port, **FAST).start()
    try:
        wait_until(lambda: len(_escalations(second)) >= 2, 20, "the step that was due")
        time.sleep(2)
        steps = [(a["action"], a["note"]) for a in _escalations(second)]
        assert steps == [("escalated:1", "li"), ("escalated:2", "wang")]
    finally:
        second.stop()


def test_two_replicas_run_each_step_once(broker: MosquittoBroker, pg_url: str) -> None:
    first = DutyServer(pg_url, broker.port, mqtt_client_id="duty-a", **FAST).start()
    second = DutyServer(pg_url, broker.port, mqtt_client_id="duty-b", **FAST).start()
    try:
        _prepare(first, wait_s=1)
        _fire(broker.port)
        wait_until(lambda: len(_escalations(first)) >= 2, 20, "both steps")
        time.sleep(3)  # give a duplicate every chance to show up
        assert [a["action"] for a in _escalations(second)] == ["escalated:1", "escalated:2"]
    finally:
        first.stop()
        second.stop()


def test_acknowledgement_stops_escalation(broker: MosquittoBroker, pg_url: str) -> None:
    duty = DutyServer(pg_url, broker.port, **FAST).start()
    try:
        _prepare(duty, wait_s=2)
        _fire(broker.port)
        wait_until(lambda: _escalations(duty), 20, "the first step")
        with duty.client() as http:
            alert = http.get("/api/v1/alerts", params={"kind": "fire"}).json()["items"][0]
            http.post(f"/api/v1/alerts/{alert['id']}/acknowledge", json={}).raise_for_status()
        time.sleep(4)
        assert [a["action"] for a in _escalations(duty)] == ["escalated:1"]
    finally:
        duty.stop()
