"""Node credentials issued by cloud-duty work in a real Mosquitto's password file."""

from __future__ import annotations

import getpass
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from devkit.localbroker import LocalBroker, free_port
from tests.duty.conftest import AUTH

pytestmark = pytest.mark.integration


def _connect(port: int, username: str, password: str) -> ReasonCode:
    """Return the broker's answer to a login."""
    result: list[ReasonCode] = []
    answered = threading.Event()

    def on_connect(*args: Any) -> None:
        result.append(args[3])
        answered.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"cred-{username}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert answered.wait(10), "the broker did not answer"
    finally:
        client.disconnect()
        client.loop_stop()
    return result[0]


def test_issued_password_logs_in_and_others_are_refused(api: TestClient, tmp_path: Path) -> None:
    issued = api.post("/api/v1/nodes/node-1/credentials", headers=AUTH)
    assert issued.status_code == 201
    password = issued.json()["password"]
    assert api.post("/api/v1/nodes/node-404/credentials", headers=AUTH).status_code == 404
    text = api.get("/api/v1/broker/password-file", headers=AUTH).text
    assert text.startswith("node-1:$7$101$")
    assert password not in text

    password_file = tmp_path / "passwords"
    password_file.write_text(text)
    port = free_port()
    broker = LocalBroker(
        tmp_path / "broker",
        port=port,
        config_text=(
            f"listener {port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {password_file}\nuser {getpass.getuser()}\n"
        ),
    )
    broker.start()
    try:
        assert not _connect(broker.port, "node-1", password).is_failure
        assert _connect(broker.port, "node-1", "guess").is_failure
        assert _connect(broker.port, "node-2", password).is_failure
    finally:
        broker.stop()
