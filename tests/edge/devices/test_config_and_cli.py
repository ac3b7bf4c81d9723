"""The `devices`/`rules` config sections and the `station devices simulate` command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import load_config
from edge.errors import ConfigError
from tests.edge.devices.support import Spy, wait_until
from tests.support.broker import MosquittoBroker

BASE = """
node_id: node-1
camera: {source: clip.mp4}
detector: {model: model.tflite}
"""
REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    return path


def test_a_node_file_without_devices_still_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE))
    assert config.devices is None
    assert config.rules.heat_on_c == 35.0


def test_devices_and_rules_sections_load(tmp_path: Path) -> None:
    text = BASE + (
        "devices: {broker: {host: 10.0.0.2, port: 8883, username: edge, password: pw,"
        " tls_ca_file: certs/ca.pem},"
        " socket_names: [a, b, c], command_timeout_s: 2}\n"
        "rules: {heat_on_c: 32, heat_off_c: 30, overcurrent_a: 4.5, door_held_open_s: 90}\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.devices is not None
    assert config.devices.socket_names == ["a", "b", "c"]
    assert config.devices.broker.tls_ca_file == tmp_path / "certs" / "ca.pem"
    assert config.devices.broker.password is not None
    assert "pw" not in repr(config.devices)
    assert config.rules.overcurrent_a == 4.5


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("devices: {door: door, fan: door}", "must differ"),
        ("devices: {socket_names: [a, a]}", "must not repeat"),
        ("devices: {door: 'Door/1'}", "devices.door"),
        ("devices: {lamp: lamp1}", "devices.lamp"),
        ("rules: {heat_on_c: 30, heat_off_c: 31}", "heat_off_c"),
        ("rules: {overcurrent_a: -1}", "rules.overcurrent_a"),
        ("rules: {tick_s: 5}", "rules.tick_s"),
    ],
)
def test_bad_device_config_is_refused_with_the_field(
    tmp_path: Path, extra: str, where: str
) -> None:
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_config(write(tmp_path, BASE + extra + "\n"))


@pytest.mark.integration
def test_station_devices_simulate_publishes_states_and_plays_a_scenario(
    broker: MosquittoBroker,
) -> None:
    spy = Spy(broker.port)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "station.cli", "devices", "simulate"),
            *("--port", str(broker.port), "--scenario", "smoke", "--duration", "5"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    wait_until(lambda: ("dev/env/smoke/state", "ON", False) in spy.messages, "scripted smoke")
    for device in ("door", "env", "sockets", "fan"):
        assert (f"dev/{device}/status", "online", False) in spy.messages
        assert (f"dev/{device}/status", "offline", False) in spy.messages  # clean shutdown
    spy.close()


def test_unknown_scenario_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "station.cli", "devices", "simulate", "--scenario", "flood"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "invalid choice: 'flood'" in proc.stderr
