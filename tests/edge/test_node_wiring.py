"""The composition root's glue: confirmed fire drives the local rules; entry needs a door."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from edge.config import ConfigError, load_config
from edge.node import EventPublisher, _fire_to_rules
from station.contracts import Event, utcnow
from vision.events import Hazard, HazardEvent, Severity
from vision.presence import Phase


@dataclass
class RecordingRules:
    """Stands in for SafetyRules at unit level."""

    calls: list[bool] = field(default_factory=list)

    def set_fire(self, confirmed: bool) -> None:
        """Record the call."""
        self.calls.append(confirmed)


def _hazard(kind: Hazard, phase: Phase) -> HazardEvent:
    now = utcnow()
    return HazardEvent(
        event_id="ev-1",
        kind=kind,
        phase=phase,
        at=now,
        started_at=now,
        score=0.9,
        zone="room",
        count=0,
        severity=Severity.CRITICAL,
    )


def test_confirmed_fire_and_its_end_reach_the_rules_but_updates_and_falls_do_not() -> None:
    rules = RecordingRules()
    hook = _fire_to_rules(SimpleNamespace(rules=rules))  # type: ignore[arg-type]
    sent: list[Event] = []
    publisher = EventPublisher("node-1", "cam", lambda _t, e: sent.append(e), hook)
    for kind, phase in [
        (Hazard.FIRE, Phase.NEW),
        (Hazard.FIRE, Phase.UPDATE),
        (Hazard.FALL, Phase.NEW),
        (Hazard.FIRE, Phase.END),
    ]:
        publisher.publish(_hazard(kind, phase))
    assert rules.calls == [True, False]
    assert len(sent) == 4


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
            "duty_token": "t",
        },
    }
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="needs a `devices` section"):
        load_config(path)
