"""Alert latency: a node's event (paho, QoS 1) -> cloud-duty on PostgreSQL -> SSE client.

Under a background load of heartbeats from simulated registered nodes (a separate process,
1,000 messages a second by default) through the same broker and database. The baseline,
measured on the same events at the same time: a raw paho subscriber on the same broker.
Prints JSON with p50/p99 of both and their ratios.

    .venv/bin/python bench/alert_latency.py --events 500 --background-rate 1000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session

from devkit.localbroker import LocalBroker, free_port
from devkit.processes import stop_process
from station.contracts import (
    Event,
    EventKind,
    EventPhase,
    NodeHealth,
    NodeTopics,
    TopicKind,
    utcnow,
)
from station.duty.db import make_engine, migrate
from station.duty.fleet.models import NodeCreate, StationCreate
from station.duty.fleet.registry import create_node, create_station
from tests.support.database import fresh_database

TOKEN = "bench-token-" + uuid.uuid4().hex
EVENT_NODE = "lat-node"
KINDS = [EventKind.FALL, EventKind.FIRE, EventKind.SMOKE, EventKind.HEAT, EventKind.CROWD]
REPO = Path(__file__).resolve().parent.parent


def bg_node(i: int) -> str:
    """Id of background node i."""
    return f"bg-node-{i:05d}"


def alert_key(i: int) -> tuple[EventKind, str]:
    """Kind and zone of event i: mostly a new alert; every 4th folds into one 10 events back."""
    if i % 4 == 3 and i >= 10:
        return alert_key(i - 10)
    return KINDS[i % len(KINDS)], f"z{i:04d}"


def background(port: int, nodes: int, rate: float, stop: Any, sent: Any) -> None:
    """Publish heartbeats of `nodes` registered nodes at `rate` per second until `stop`."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-bg-{uuid.uuid4().hex[:6]}")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    tick, count, started = 0.01, 0, time.perf_counter()
    while not stop.is_set():
        due = int((time.perf_counter() - started) * rate)
        while count < due:
            node = bg_node(count % nodes)
            beat = NodeHealth(
                node_id=node,
                ts=utcnow(),
                uptime_s=count,
                inference_ms=40.0,
                cpu_percent=30.0,
                memory_mb=400.0,
                outbox_depth=0,
            )
            client.publish(NodeTopics(node).topic(TopicKind.HEALTH), beat.to_payload(), qos=1)
            count += 1
        time.sleep(tick)
    sent.value = count
    client.disconnect()
    client.loop_stop()


def prepare_database(db_url: str, nodes: int) -> None:
    """Migrate and register the event node and the background nodes."""
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as session:
        create_station(session, StationCreate(id="lat-st", name="latency station"))
        create_node(session, NodeCreate(id=EVENT_NODE, station_id="lat-st"))
        create_station(session, StationCreate(id="bg-st", name="background"))
        for i in range(nodes):
            create_node(session, NodeCreate(id=bg_node(i), station_id="bg-st"))
    engine.dispose()


def start_duty(
    db_url: str, broker_port: int, workdir: Path, overrides: list[str], ready_s: float = 60
) -> tuple[subprocess.Popen[bytes], str]:
    """Run `python -m station.cli duty` as a subprocess and wait until ingest is connected."""
    port = free_port()
    env = {
        **os.environ,
        "UWS_DATABASE_URL": db_url,
        "UWS_MQTT_PORT": str(broker_port),
        "UWS_API_TOKEN": TOKEN,
        "UWS_MQTT_CLIENT_ID": "bench-duty",
        **dict(item.split("=", 1) for item in overrides),
    }
    log = (workdir / "duty.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "station.cli", "duty", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"cloud-duty exited: {(workdir / 'duty.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).json().get("broker_connected"):
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_process(proc)
    raise RuntimeError(f"cloud-duty did not become ready in {ready_s} s")


class Arrivals:
    """First arrival time (perf_counter) of each bench event id, from one source."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    def saw(self, event_id: str | None, when: float) -> None:
        """Keep the first arrival of a bench event."""
        if event_id and event_id.startswith("lat-"):
            with self.lock:
                self.at.setdefault(event_id, when)


def read_feed(url: str, arrivals: Arrivals, opened: threading.Event, stop: threading.Event) -> None:
    """SSE client: note when each event's alert change arrives on the feed."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with (
            httpx.Client(headers=headers, timeout=httpx.Timeout(10, read=None)) as http,
            http.stream("GET", f"{url}/api/v1/alerts/feed") as response,
        ):
            response.raise_for_status()
            opened.set()
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("data:"):
                    now = time.perf_counter()
                    alert = json.loads(line[5:])["alert"]
                    arrivals.saw(alert.get("last_event_id"), now)
    except httpx.HTTPError:
        if not stop.is_set():  # cloud-duty going away at the end is expected
            raise


def raw_subscriber(port: int, arrivals: Arrivals) -> mqtt.Client:
    """Baseline: a plain paho subscriber on the event topic of the same broker."""

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        arrivals.saw(json.loads(msg.payload).get("event_id"), time.perf_counter())

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-sub")
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(NodeTopics(EVENT_NODE).topic(TopicKind.EVENT), qos=1)
    client.loop_start()
    return client


def publish_events(port: int, count: int, rate: float) -> dict[str, float]:
    """Publish `count` events at `rate` per second, QoS 1, as a node would; return send times."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-event-node")
    client.connect("127.0.0.1", port)
    client.loop_start()
    topic = NodeTopics(EVENT_NODE).topic(TopicKind.EVENT)
    sent: dict[str, float] = {}
    started = time.perf_counter()
    for i in range(count):
        kind, zone = alert_key(i)
        now = utcnow()
        msg = Event(
            event_id=f"lat-{i:05d}",
            node_id=EVENT_NODE,
            camera_id="cam-1",
            kind=kind,
            phase=EventPhase.NEW,
            seq=0,
            ts=now,
            started_at=now - timedelta(seconds=1),
            score=0.9,
            zone=zone,
        )
        payload = msg.to_payload()
        sent[msg.event_id] = time.perf_counter()
        client.publish(topic, payload, qos=1)
        time.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
    client.loop_stop()
    client.disconnect()
    return sent


def summary(sent: dict[str, float], arrivals: Arrivals) -> dict[str, Any]:
    """p50 / p99 / max latency in milliseconds, and how many never arrived."""
    with arrivals.lock:
        ms = sorted((arrivals.at[k] - t) * 1000 for k, t in sent.items() if k in arrivals.at)
    if not ms:
        return {"received": 0, "missing": len(sent)}
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "received": len(ms),
        "missing": len(sent) - len(ms),
        "p50_ms": round(cuts[49], 2),
        "p99_ms": round(cuts[98], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "max_ms": round(ms[-1], 2),
    }


def wait_for(sent: dict[str, float], arrivals: Arrivals, timeout_s: float) -> None:
    """Wait until every sent event has arrived, or the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with arrivals.lock:
            if all(k in arrivals.at for k in sent):
                return
        time.sleep(0.1)


def persisted(url: str) -> int:
    """Messages cloud-duty has written to PostgreSQL so far."""
    return int(httpx.get(f"{url}/healthz", timeout=10).json()["persisted"])


def measure(port: int, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run the background load, the SSE client and the raw subscriber; publish; summarise."""
    ctx = mp.get_context("spawn")
    stop_bg, bg_sent = ctx.Event(), ctx.Value("l", 0)
    bg = ctx.Process(
        target=background, args=(port, args.bg_nodes, args.background_rate, stop_bg, bg_sent)
    )
    bg.start()
    feed, raw = Arrivals(), Arrivals()
    opened, stop_feed = threading.Event(), threading.Event()
    threading.Thread(target=read_feed, args=(url, feed, opened, stop_feed), daemon=True).start()
    if not opened.wait(30):
        raise RuntimeError("the SSE feed did not open")
    sub = raw_subscriber(port, raw)
    time.sleep(args.warmup)  # let the background load reach its steady state
    persisted_before, t0 = persisted(url), time.perf_counter()
    sent = publish_events(port, args.events, args.event_rate)
    wait_for(sent, feed, args.timeout)
    wait_for(sent, raw, 10)
    persisted_after, t1 = persisted(url), time.perf_counter()
    stop_feed.set()
    stop_bg.set()
    bg.join(timeout=30)
    sub.loop_stop()
    sub.disconnect()
    window = t1 - t0
    return {
        "raw_paho": summary(sent, raw),
        "cloud_duty_sse": summary(sent, feed),
        "background_sent": bg_sent.value,
        "duty_persisted_per_second": round((persisted_after - persisted_before) / window, 1),
        "window_s": round(window, 2),
    }


def report(args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    """The JSON document: both latencies, their ratios, the load, the target."""
    raw, duty = result["raw_paho"], result["cloud_duty_sse"]
    ratios = {}
    if "p50_ms" in raw and "p50_ms" in duty:
        ratios = {
            "p50_ratio_to_raw": round(duty["p50_ms"] / max(raw["p50_ms"], 0.001), 1),
            "p99_ratio_to_raw": round(duty["p99_ms"] / max(raw["p99_ms"], 0.001), 1),
        }
    return {
        "bench": "alert_latency",
        "events": args.events,
        "event_rate_per_s": args.event_rate,
        "background_rate_target_per_s": args.background_rate,
        "background_nodes": args.bg_nodes,
        "duty_env": args.duty_env,
        **result,
        **ratios,
        "target_p99_ms": 500,
        "p99_under_target": duty.get("missing") == 0 and duty.get("p99_ms", 1e9) < 500,
    }


def main() -> None:
    """Start broker, database and cloud-duty; measure; print JSON; clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500, help="events to time (>= 500)")
    parser.add_argument("--event-rate", type=float, default=20, help="events per second")
    parser.add_argument("--background-rate", type=float, default=1000, help="heartbeats/s")
    parser.add_argument("--bg-nodes", type=int, default=1000, help="simulated registered nodes")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before timing")
    parser.add_argument("--timeout", type=float, default=60, help="wait for stragglers (s)")
    parser.add_argument(
        "--duty-env",
        action="append",
        default=[],
        metavar="UWS_NAME=VALUE",
        help="extra cloud-duty setting, e.g. UWS_INGEST_BATCH_WAIT_MS=5 (repeatable)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database("uws_bench") as db_url:
        broker = LocalBroker(Path(tmp) / "broker")
        broker.start()
        duty: subprocess.Popen[bytes] | None = None
        try:
            prepare_database(db_url, args.bg_nodes)
            duty, url = start_duty(db_url, broker.port, Path(tmp), args.duty_env)
            result = measure(broker.port, url, args)
        finally:
            if duty is not None:
                stop_process(duty)
            broker.stop()
    print(json.dumps(report(args, result), indent=2))


if __name__ == "__main__":
    main()
