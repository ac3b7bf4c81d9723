"""A camera-only fire holds the door across a node restart until the models have looked again.

The node's own parts, in-process, on a real broker with the simulated station: the local
rules with their SQLite holds, the event router and the camera analysis (scripted detections).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devkit.simulator import SimulatedStation
from edge.analysis import StationAnalysis
from edge.devices.config import DevicesConfig, RulesConfig, StationBrokerConfig
from edge.devices.holds import FireHolds
from edge.devices.link import LocalSafety
from edge.routing import EventRouter
from station.contracts import Event, EventKind, EventPhase
from tests.edge.devices.support import Collected, Spy, wait_until
from tests.edge.test_analysis import FIRE_BOX, ScriptedDetector, flickering
from tests.support.broker import MosquittoBroker
from vision.detector import Detection
from vision.events import Hazard
from vision.pipeline import AnalysisSettings, CameraFrame, ModelUse
from vision.roles import Role

pytestmark = pytest.mark.integration
T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
HOLD_OFF = ("dev/door/hold/command", "OFF")


class Node:
    """The parts of run_node that a camera fire goes through, started like the node does."""

    def __init__(self, port: int, holds: Path, fire: bool) -> None:
        self.sent: list[Event] = []
        self.router = EventRouter("node-1", lambda _t, e: self.sent.append(e), "uws/v1/e")
        devices = DevicesConfig(broker=StationBrokerConfig(port=port), command_timeout_s=10.0)
        self.safety = LocalSafety(devices, RulesConfig(), Collected(), FireHolds(holds))
        self.router.attach_safety(self.safety)
        assert self.safety.start(timeout_s=15.0)
        seen = [Detection(Role.FIRE, "fire", 0.9, FIRE_BOX)] if fire else []
        self.analysis = StationAnalysis(
            {"room": AnalysisSettings(hazards=frozenset({Hazard.FIRE}))},
            [ModelUse(ScriptedDetector(seen))],
            self.router.camera_event,
            lambda _id, _jpeg: None,
            looked=self.router.camera_looked,
        )

    def frames(self, start: int, count: int) -> None:
        for i in range(start, start + count):
            ts = T0 + timedelta(seconds=i * 0.25)
            self.analysis.step([CameraFrame("room", ts, flickering(i))])

    def stop(self, at: int) -> None:
        """A clean stop, in run_node's order."""
        self.router.detach_safety()
        self.analysis.close(T0 + timedelta(seconds=at * 0.25))
        self.safety.stop()


def test_after_a_restart_a_camera_fire_holds_the_door_until_the_camera_looked_again(
    broker: MosquittoBroker, sim: SimulatedStation, spy: Spy, tmp_path: Path
) -> None:
    holds = tmp_path / "fire_holds.sqlite"
    first = Node(broker.port, holds, fire=True)
    first.frames(0, 12)
    assert [(e.kind, e.phase) for e in first.sent] == [(EventKind.FIRE, EventPhase.NEW)]
    wait_until(lambda: sim.hold and not sim.locked, "door held open for the camera fire")
    first.stop(12)
    assert (EventKind.FIRE, EventPhase.END) in [(e.kind, e.phase) for e in first.sent]
    # The power cut takes the door controller down too: it boots locked, hold off.
    sim.reboot_door()
    wait_until(lambda: sim.locked and not sim.hold, "door rebooted locked")

    # The fire is out now, but the new process cannot know that before its models looked.
    second = Node(broker.port, holds, fire=False)
    wait_until(lambda: sim.hold and not sim.locked, "held again before any frame")
    second.frames(100, 20)  # 5 s: not yet long enough for every path to a fire to open
    assert HOLD_OFF not in spy.commands()
    assert sim.hold
    second.frames(120, 30)
    wait_until(lambda: HOLD_OFF in spy.commands(), "hold released once the camera looked")
    wait_until(lambda: not sim.hold, "door no longer held")
    assert second.sent == []
    second.stop(150)
    assert FireHolds(holds).load() == []
