"""Every ESPHome file validates with `esphome config`, and uses the topics the edge reads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from devkit.simulator import SimulatedStation
from edge.devices.config import DevicesConfig
from edge.devices.link import StationDevices
from edge.devices.model import DoorLock, Relays, command_topic
from tests.edge.devices.brokers import FIRMWARE

pytestmark = pytest.mark.integration

REPO = FIRMWARE.parent
DEVICE_FILES = ("door", "environment", "sockets", "fan")
TOPIC_LINE = re.compile(r"^\s*(state_topic|command_topic|topic): (dev/\S+)$", re.MULTILINE)


def esphome() -> str:
    """The esphome CLI: $UWS_ESPHOME, or .venv-esphome (scripts/bootstrap.sh makes it)."""
    found = os.environ.get("UWS_ESPHOME") or REPO / ".venv-esphome" / "bin" / "esphome"
    if not Path(found).is_file():
        pytest.fail(f"esphome not found at {found}; run scripts/bootstrap.sh or set UWS_ESPHOME")
    return str(found)


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of firmware-configs with secrets.yaml made from the example."""
    copy = tmp_path_factory.mktemp("fw") / "firmware-configs"
    shutil.copytree(FIRMWARE, copy)
    shutil.copy(copy / "secrets.yaml.example", copy / "esphome" / "secrets.yaml")
    return copy


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [esphome(), "config", path.name],
        check=False,
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.fixture(scope="module")
def validated(configs: Path) -> dict[str, str]:
    """The validated configuration esphome prints for each device file."""
    out = {}
    for name in DEVICE_FILES:
        result = validate(configs / "esphome" / f"{name}.yaml")
        assert result.returncode == 0, f"{name}.yaml:\n{result.stdout[-3000:]}{result.stderr}"
        out[name] = result.stdout
    return out


def edge_topics() -> tuple[set[str], set[str]]:
    """The topics the edge subscribes to, and the command topics the simulator obeys."""
    reads = set(StationDevices(DevicesConfig()).registry.subscriptions())
    sim = SimulatedStation("127.0.0.1", 1)  # not started: only its wiring is read
    commands = {command_topic(d.device_id, e) for d in sim.all for e in d.handlers}
    return reads, commands


def test_every_device_file_validates(validated: dict[str, str]) -> None:
    assert set(validated) == set(DEVICE_FILES)


def test_firmware_topics_are_the_ones_the_edge_uses(validated: dict[str, str]) -> None:
    states, commands, statuses = set(), set(), set()
    for text in validated.values():
        for kind, topic in TOPIC_LINE.findall(text):
            if kind == "command_topic":
                commands.add(topic)
            elif kind == "state_topic":
                states.add(topic)
            elif topic.endswith("/status"):
                statuses.add(topic)
    reads, sent = edge_topics()
    assert states | statuses == reads
    assert commands == sent


def test_edge_sends_commands_only_on_firmware_command_topics(validated: dict[str, str]) -> None:
    sent: list[str] = []

    def record(topic: str, _payload: str) -> None:
        sent.append(topic)

    ids = DevicesConfig()
    door = DoorLock(ids.door, record)
    sockets = Relays(ids.sockets, ids.socket_names, record, metered=True)
    fan = Relays(ids.fan, ["fan"], record)
    door.request_unlock("test")
    door.request_lock()
    door.request_hold(True)
    for name in sockets.names:
        sockets.switch(name, False)
    fan.switch("fan", True)
    firmware = {
        t
        for text in validated.values()
        for k, t in TOPIC_LINE.findall(text)
        if k == "command_topic"
    }
    assert set(sent) == firmware


def test_a_broken_file_is_refused(configs: Path) -> None:
    door = configs / "esphome" / "door.yaml"
    broken = door.with_name("broken.yaml")
    broken.write_text(door.read_text().replace("pin: GPIO26", "pin: GPIO99"))
    result = validate(broken)
    assert result.returncode != 0
    assert "GPIO99" in result.stdout + result.stderr or "pin" in (result.stdout + result.stderr)
