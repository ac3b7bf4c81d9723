"""The composition root's glue: camera fires reach the local rules directly; entry needs a door."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from edge.config import load_config
from edge.errors import ConfigError
from edge.routing import EventRouter
from station.contracts import Event, EventKind, utcnow
from vision.events import Hazard, HazardEvent, Phase, Severity


@dataclass
class RecordingRules:
    """Stands in for SafetyRules at unit level."""

    calls: list[tuple[str, Hazard, Phase]] = field(default_factory=list)

    def on_hazard(self, camera_id: str, event: HazardEvent) -> None:
        """Record the call."""
        self.calls.append((camera_id, event.kind, event.phase))


def _hazard(kind: Hazard, phase: Phase) -> HazardEvent:
    now = utcnow()
    return HazardEvent(
        event_id="ev-1",
        kind=kind,
        phase=phase,
        seq=0,
        at=now,
        started_at=now,
        score=0.9,
        zone="room",
        count=0,
        severity=Severity.CRITICAL,
    )


def test_camera_events_reach_the_rules_as_hazard_events_and_go_out_once() -> None:
    rules = RecordingRules()
    sent: list[Event] = []
    router = EventRouter("node-1", lambda _t, e: sent.append(e), "uws/v1/node-1/event")
    router.attach_safety(SimpleNamespace(rules=rules))  # type: ignore[arg-type]
    for kind, phase in [
        (Hazard.FIRE, Phase.NEW),
        (Hazard.FALL, Phase.NEW),
        (Hazard.FIRE, Phase.END),
    ]:
        router.camera_event("cam", _hazard(kind, phase), has_snapshot=False)
    assert rules.calls == [
        ("cam", Hazard.FIRE, Phase.NEW),
        ("cam", Hazard.FALL, Phase.NEW),
        ("cam", Hazard.FIRE, Phase.END),
    ]
    assert (sent[0].kind, sent[0].camera_id, sent[0].severity) == (
        EventKind.FIRE,
        "cam",
        Severity.CRITICAL.value,
    )
    assert len(sent) == 3


def test_device_events_name_their_device_not_a_camera() -> None:
    sent: list[Event] = []
    router = EventRouter("node-1", lambda _t, e: sent.append(e), "uws/v1/node-1/event")
    router.device_event("env", _hazard(Hazard.HEAT, Phase.NEW))
    assert (sent[0].device_id, sent[0].camera_id, sent[0].kind) == ("env", None, EventKind.HEAT)


def test_entry_names_a_door_camera_the_node_has(tmp_path: Path) -> None:
    raw: dict[str, Any] = {
        "node_id": "n1",
        "camera": {"source": "0"},
        "detector": {"model": "m.pt"},
        "devices": {"broker": {"host": "127.0.0.1"}},
        "entry": {
            "camera": "porch",
            "policy": {"station_id": "st-1", "public_key": "A" * 43, "state_path": "e.sqlite"},
            "duty_url": "http://127.0.0.1:8000",
            "duty_token": "uwsn_t",
        },
    }
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="porch"):
        load_config(path)


def test_entry_without_devices_is_refused(tmp_path: Path) -> None:
    raw: dict[str, Any] = {
        "node_id": "n1",
        "camera": {"source": "0"},
        "detector": {"model": "m.pt"},
        "entry": {
            "policy": {
                "station_id": "st-1",
                "public_key": "A" * 43,
                "state_path": "entry.sqlite",
            },
            "duty_url": "http://127.0.0.1:8000",
            "duty_token": "uwsn_t",
        },
    }
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="needs a `devices` section"):
        load_config(path)
