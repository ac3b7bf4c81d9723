"""Safety-rule latency: a smoke reading on the station broker -> the door's UNLOCK command.

Prints JSON with p50/p99 over `--tries` of the node's rules (edge.device_link.LocalSafety)
beside a bare paho round trip through the same broker in the same run: one client publishes,
an echo client answers on another topic, the first receives it. Both paths cross the broker
twice, so the ratio is what the rules (parsing, queue, rule thread) add.

    .venv/bin/python bench/rules.py --tries 300
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devkit.localbroker import LocalBroker
from edge.devices.config import DevicesConfig, RulesConfig, StationBrokerConfig
from edge.devices.link import LocalSafety
from station.mqtt import no_delay
from vision.events import Hazard, HazardEvent, Phase

WAIT_S = 10.0


class Client:
    """A paho client that hands each message on `topic` to a queue-like slot."""

    def __init__(self, port: int, subscribe: str) -> None:
        self.arrived = threading.Event()
        self.last: tuple[str, bytes, float] = ("", b"", 0.0)
        self.on_message_extra: Any = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_socket_open = no_delay  # the same socket options as the node's link
        ready = threading.Event()
        self.client.on_subscribe = lambda *_a: ready.set()
        self.client.on_connect = lambda c, *_a: c.subscribe(subscribe, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not ready.wait(WAIT_S):
            raise TimeoutError("no SUBACK")

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if self.on_message_extra is not None:
            self.on_message_extra(client, msg)
            return
        self.last = (msg.topic, bytes(msg.payload), time.perf_counter())
        self.arrived.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(p99 * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
    }


def bare_round_trip(port: int, tries: int) -> list[float]:
    """Publish -> echo client -> back, through the broker twice, like smoke -> rules -> unlock."""
    echo = Client(port, "bench/ping")
    echo.on_message_extra = lambda c, msg: c.publish("bench/pong", msg.payload, qos=1)
    probe = Client(port, "bench/pong")
    samples = []
    for i in range(tries):
        probe.arrived.clear()
        start = time.perf_counter()
        probe.client.publish("bench/ping", str(i), qos=1)
        if not probe.arrived.wait(WAIT_S):
            raise TimeoutError("echo did not answer")
        samples.append(probe.last[2] - start)
    echo.close()
    probe.close()
    return samples


def rules_round_trip(port: int, tries: int) -> list[float]:
    """Publish smoke ON as the sensor would; time until UNLOCK arrives on the door's topic."""
    ended = threading.Event()

    def emit(_device_id: str, event: HazardEvent) -> None:
        if event.kind is Hazard.SMOKE and event.phase is Phase.END:
            ended.set()

    devices = DevicesConfig(broker=StationBrokerConfig(port=port))
    safety = LocalSafety(devices, RulesConfig(), emit)
    if not safety.start(WAIT_S):
        raise TimeoutError("rules did not connect")
    door = Client(port, "dev/door/lock/command")
    door.client.publish("dev/door/lock/state", "LOCKED", qos=1, retain=True).wait_for_publish()
    samples = []
    for _ in range(tries):
        door.arrived.clear()
        start = time.perf_counter()
        door.client.publish("dev/env/smoke/state", "ON", qos=1, retain=True)
        if not door.arrived.wait(WAIT_S) or door.last[1] != b"UNLOCK":
            raise TimeoutError(f"no UNLOCK after smoke (got {door.last[1]!r})")
        samples.append(door.last[2] - start)
        ended.clear()
        door.client.publish("dev/env/smoke/state", "OFF", qos=1, retain=True)
        if not ended.wait(WAIT_S):
            raise TimeoutError("smoke did not clear")
    safety.stop()
    door.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tries", type=int, default=300, help="round trips per path (>= 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # As firmware-configs/mosquitto/node.conf: no Nagle delay on the broker's writes.
        broker = LocalBroker(Path(tmp) / "broker", extra_config="set_tcp_nodelay true")
        broker.start()
        try:
            bare = bare_round_trip(broker.port, args.tries)
            rules = rules_round_trip(broker.port, args.tries)
        finally:
            broker.stop()
    bare_stats, rules_stats = percentiles(bare), percentiles(rules)
    print(
        json.dumps(
            {
                "benchmark": "smoke reading -> door UNLOCK command (local rules)",
                "tries": args.tries,
                "rules": rules_stats,
                "baseline_bare_paho_round_trip": bare_stats,
                "ratio_p50": round(rules_stats["p50_ms"] / bare_stats["p50_ms"], 2),
                "ratio_p99": round(rules_stats["p99_ms"] / bare_stats["p99_ms"], 2),
                "within_1s_budget": max(rules) < 1.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
