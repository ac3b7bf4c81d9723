"""A worker let in while a fire holds the door open still has a visit: the simulated station
on a real station broker, the node's real safety rules and entry on one device link, the
uplink on a real cloud broker and cloud-duty on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.localbroker import LocalBroker
from devkit.simulator import SimulatedStation
from edge.config import CloudConfig
from edge.devices.config import DevicesConfig, RulesConfig, StationBrokerConfig
from edge.devices.link import LocalSafety
from edge.devices.model import LockState
from edge.entry.controller import EntryConfig, EntryController, contact_listener
from edge.entry.store import EntryStore
from edge.link.outbox import Outbox
from edge.link.uplink import Uplink
from station.contracts import EventKind, EventPhase, utcnow
from tests.edge.devices.support import Collected
from tests.support.broker import MosquittoBroker
from tests.support.duty_server import DutyServer, wait_until

pytestmark = pytest.mark.integration


@dataclass
class Station:
    """cloud-duty, the simulated station's devices, and a node's rules and entry."""

    http: httpx.Client
    sim: SimulatedStation
    safety: LocalSafety
    fired: Collected
    controller: EntryController
    member_id: str

    def token(self) -> str:
        body = {"scopes": ["st-1"], "ttl_s": 60}
        response = self.http.post(f"/api/v1/members/{self.member_id}/tokens", json=body)
        response.raise_for_status()
        token: str = response.json()["token"]
        return token

    def visits(self) -> list[dict[str, Any]]:
        response = self.http.get("/api/v1/visits", params={"station_id": "st-1"})
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
def station(tmp_path: Path, broker: MosquittoBroker, pg_url: str) -> Iterator[Station]:
    station_broker = LocalBroker(tmp_path / "station-broker")
    station_broker.start()
    duty = DutyServer(pg_url, broker.port).start()
    duty.register("st-1", "node-1")
    http = duty.client()
    member = http.post(
        "/api/v1/members", json={"occupation": "cleaner", "phone": "+86 139 0000 0002"}
    )
    member.raise_for_status()
    public_key = http.get("/api/v1/entry/sync").json()["public_key"]
    sim = SimulatedStation("127.0.0.1", station_broker.port)
    sim.start()
    fired = Collected()
    devices = DevicesConfig(broker=StationBrokerConfig(port=station_broker.port))
    safety = LocalSafety(devices, RulesConfig(), fired)
    uplink = Uplink("node-1", CloudConfig(port=broker.port), Outbox(tmp_path / "outbox.sqlite"))
    config = EntryConfig(station_id="st-1", public_key=public_key, state_path=tmp_path / "e.db")
    store = EntryStore(config.state_path)
    # As the node wires them: entry reads the same door the rules hold.
    door = safety.devices.door
    controller = EntryController("node-1", config, store, door, uplink, utcnow)
    safety.devices.registry.listen(contact_listener(controller, door.device_id))
    uplink.start()
    assert safety.start(timeout_s=15), "station broker link did not come up"
    yield Station(http, sim, safety, fired, controller, member.json()["id"])
    safety.stop()
    uplink.stop()
    store.close()
    sim.stop()
    http.close()
    duty.stop()
    station_broker.stop()


def test_a_worker_let_in_while_a_fire_holds_the_door_open_is_inside(station: Station) -> None:
    door = station.safety.devices.door
    station.sim.set_smoke(True)
    station.fired.wait(EventKind.SMOKE, EventPhase.NEW)
    wait_until(lambda: door.hold and door.lock_state is LockState.UNLOCKED, 20, "the fire hold")
    station.sim.open_door()  # people leaving push it wide; it stays open
    wait_until(lambda: door.is_open, 20, "the door open")

    decision = station.controller.present_qr(station.token())

    assert decision is not None
    assert decision.allowed, decision
    wait_until(station.visits, 30, "the visit in cloud-duty")
    [visit] = station.visits()
    assert visit["member_id"] == station.member_id
    assert visit["method"] == "qr"
    assert visit["exited_at"] is None
    occupancy = station.http.get("/api/v1/stations/st-1/occupancy").json()
    assert occupancy["inside"] == 1
